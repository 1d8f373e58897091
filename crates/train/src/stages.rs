//! The stages of a run that need libtorch: `iw train`, `iw predict` and `iw run` (train,
//! predict, then iw-run's `evaluate`). The run folder they write (layout, run.json, the
//! settings check, the logs' rows) is `iw_run`'s [`RunDir`].
use crate::validation::{predict_case, to_f32, PatchValidation, VolumeValidation};
use anyhow::{bail, Context};
use iw_core::{Connectivity, Volume};
use iw_data::prepared::{PreparedCase, PreparedDataset};
use iw_data::sampler::{BatchStream, SamplerConfig};
use iw_io::{read_volume, write_volume};
use iw_losses::{Compute, LossInputs};
use iw_models::{lr_at, DeviceSpecExt, LrSchedule, OptimizerConfig, Trainer, UNetConfig};
use iw_run::interrupt::STOP;
use iw_run::progress::bar;
use iw_run::train_log::{self, TrainLogRow};
use iw_run::validation::{format_log, read_rows_before, volume_pass_due, ValidationRow};
use iw_run::{
    dataset_channels, evaluate, prepare_dir, record, split_ids, write_curve, Experiment, Prediction, RunDir, Stage,
};
use serde_json::json;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;
use tch::{Device, Tensor};

fn device_of(exp: &Experiment) -> anyhow::Result<Device> {
    if let Some(t) = exp.training.threads {
        tch::set_num_threads(t);
    }
    Ok(exp.device().resolve()?)
}

/// The host memory a training run needs, estimated before anything is allocated: 1 GiB for
/// libtorch, the process and the data's pages; the weights with their gradients and momentum
/// (3 x the parameters); per sample 3.5 x the layer outputs of `iw model summary` (autograd
/// keeps the input of every convolution, normalisation and activation, and the backward pass
/// its own buffers); the sampler's queued batches (image channels, mask, labels, weights).
/// Calibrated on the peak RSS of `iw train` (width 1, depth 4, batch 2, one thread): 32x64x64
/// 1.93 GiB (estimate 1.87), 64^3 2.35 (2.53), 64x128x128 6.40 (6.74).
pub fn training_memory(exp: &Experiment, channels: usize) -> anyhow::Result<f64> {
    let cfg = UNetConfig {
        in_channels: channels as i64,
        width: exp.model.width,
        depth: exp.model.depth,
        ..UNetConfig::default()
    };
    let vs = tch::nn::VarStore::new(Device::Cpu);
    let model = iw_models::ResUNet::new(&vs.root(), cfg)?;
    let t = &exp.training;
    let patch = t.patch.map(|v| v as i64);
    let activations: f64 =
        model.summary(&vs, patch).iter().map(|r| r.output.iter().map(|&v| v as f64).product::<f64>()).sum();
    let params = iw_models::parameter_count(&vs) as f64;
    let voxels: f64 = t.patch.iter().map(|&v| v as f64).product();
    let batch = t.batch as f64;
    let queued = (exp.sampler.queue + exp.sampler.workers) as f64 * batch * voxels * 4.0 * (channels as f64 + 3.0);
    Ok(1024f64.powi(3) + 3.0 * 4.0 * params + batch * 3.5 * 4.0 * activations + queued)
}

/// Refuses, with the estimate, a CPU training run that cannot fit in this machine's memory (on
/// CUDA the host holds little and the device's memory is not queried: tch has no binding).
fn check_training_memory(exp: &Experiment, device: Device) -> anyhow::Result<()> {
    if device.is_cuda() {
        return Ok(());
    }
    let need = training_memory(exp, dataset_channels(exp)?)?;
    let t = &exp.training;
    iw_run::resources::check_fits(
        &format!("training.patch {:?} x training.batch {}", t.patch, t.batch),
        need,
        "use a smaller training.patch or training.batch (`iw model summary` lists the activations)",
    )
}

/// The optimiser of an experiment (also what a checkpoint is loaded into).
pub(crate) fn optimizer_config(exp: &Experiment) -> OptimizerConfig {
    let t = &exp.training;
    OptimizerConfig {
        momentum: t.momentum,
        nesterov: t.nesterov,
        weight_decay: 0.0,
        clip_grad_norm: t.clip_grad_norm,
        amp_bf16: t.amp_bf16,
    }
}

fn trainer_for(exp: &Experiment, device: Device) -> anyhow::Result<Trainer> {
    let model = UNetConfig {
        in_channels: dataset_channels(exp)? as i64,
        width: exp.model.width,
        depth: exp.model.depth,
        ..UNetConfig::default()
    };
    let mut trainer = Trainer::new(device, model, optimizer_config(exp), exp.training.seed as i64)?;
    trainer.set_channels_last(exp.training.channels_last)?;
    if device.is_cuda() {
        iw_models::set_cudnn_benchmark(exp.training.cudnn_benchmark);
    }
    Ok(trainer)
}

/// A batch on the device.
pub(crate) struct BatchTensors {
    pub(crate) image: Tensor,
    pub(crate) target: Tensor,
    labels: Tensor,
    regions: Option<Tensor>,
}

impl BatchTensors {
    /// The batch on `device`; `pinned`: through page-locked memory with non-blocking copies
    /// (`training.pin_memory`, CUDA only).
    pub(crate) fn new(
        batch: &iw_data::sampler::Batch,
        patch: [usize; 3],
        device: Device,
        pinned: bool,
    ) -> anyhow::Result<Self> {
        let [d, h, w] = patch.map(|v| v as i64);
        let b = batch.origins.len() as i64;
        let shape = [b, 1, d, h, w];
        let up = |t: Tensor| iw_models::upload(&t, device, pinned);
        let long = |v: &[u16]| up(Tensor::from_slice(&v.iter().map(|&l| l as i64).collect::<Vec<_>>()).reshape(shape));
        Ok(BatchTensors {
            image: up(Tensor::from_slice(&batch.image).reshape([b, batch.channels as i64, d, h, w]))?,
            target: up(Tensor::from_slice(&batch.mask).reshape(shape))?,
            labels: long(&batch.labels)?,
            regions: if batch.regions.is_empty() { None } else { Some(long(&batch.regions)?) },
        })
    }
    pub(crate) fn inputs<'a>(&'a self, logits: &'a Tensor, batch: &iw_data::sampler::Batch) -> LossInputs<'a> {
        LossInputs {
            logits,
            target: &self.target,
            labels: Some(&self.labels),
            regions: self.regions.as_ref(),
            max_label: Some(batch.max_label as i64),
        }
    }
}

/// `iw train`.
pub fn train(exp: &Experiment, dir: &RunDir) -> anyhow::Result<()> {
    prepare_dir(dir, exp, Stage::Train)?;
    let (last, fin) = (dir.last_checkpoint(), dir.final_checkpoint());
    if fin.is_file() {
        println!("train: {} exists, skipped", fin.display());
        return Ok(());
    }
    let t0 = Instant::now();
    let device = device_of(exp)?;
    let loss_cfg = *exp.loss_config();
    let ids = split_ids(exp, "train")?;
    let mut ds = PreparedDataset::open(&exp.dataset.prepared, &ids)?;
    if exp.connectivity() != Connectivity::C26 {
        let conn = exp.connectivity();
        for c in &mut ds.cases {
            c.relabel_for_weights(conn)?;
        }
    }
    check_training_memory(exp, device)?;
    let mut trainer = trainer_for(exp, device)?;
    let mut start = 0u64;
    if last.is_file() {
        start = trainer.load_checkpoint(&last)?.step;
        println!("train: resuming from {} at step {start}", last.display());
    }
    let t = &exp.training;
    let total = (t.epochs * t.iterations) as u64;
    let schedule = LrSchedule { base: t.lr, milestones: t.lr_milestones.clone(), gamma: t.lr_gamma };
    let scfg = SamplerConfig {
        patch_dhw: t.patch,
        batch_size: t.batch,
        lesion_fraction: exp.sampler.lesion_fraction,
        window: exp.dataset.window,
        seed: t.seed,
        weights: None,
        regions: loss_cfg.needs_regions(),
        background: exp.sampler.background,
    };
    // The log keeps the rows of the steps before the checkpoint (a bad line is an error naming
    // the file and the line, not a row dropped).
    let log_path = dir.train_log();
    let mut log: Vec<TrainLogRow> = train_log::read(&log_path)?;
    log.retain(|r| r.step < start);
    let mut rows: Vec<(u64, f64)> = log.iter().map(|r| (r.step, r.loss)).collect();
    // Validation rows of the epochs before the checkpoint are kept, as the log's.
    let val_path = dir.validation_log();
    let mut val_rows: Vec<ValidationRow> = read_rows_before(&val_path, start)?;
    let patches = PatchValidation::new(exp, &scfg)?;
    if patches.is_none() {
        println!("train: no validation case with a lesion in the split: no patch validation");
    }
    let volumes = VolumeValidation::new(exp)?;
    if volumes.is_none() && t.validate_every > 0 {
        println!("train: no validation case in the split: no whole-volume validation");
    }
    let mut volume_seconds = 0.0;
    // TensorBoard scalars beside the CSVs, kept to the same steps on a resume.
    let mut events = iw_report::tfevents::EventWriter::resume(dir.path(), |tag, s| {
        if tag.starts_with("validation/") {
            s as u64 <= start
        } else {
            (s as u64) < start
        }
    })?;
    let mut stream = BatchStream::new(Arc::new(ds), scfg, start, exp.sampler.workers, exp.sampler.queue)?;
    let pb = bar(total, &format!("train {}", exp.method()));
    pb.set_position(start);
    let save = |trainer: &Trainer, path: &Path, step: u64| {
        trainer.save_checkpoint(path, json!({"epoch": step / t.iterations as u64, "sampler_batch": step}))
    };
    let mut ahead = std::collections::VecDeque::new();
    for step in start..total {
        let epoch = (step / t.iterations as u64) as usize;
        let lr = lr_at(&schedule, epoch);
        // `training.prefetch` batches wait on the device ahead of this step (issue 21).
        while ahead.len() <= t.prefetch && step + (ahead.len() as u64) < total {
            let batch = stream.next().context("the sampler stopped")?;
            let bt = BatchTensors::new(&batch, t.patch, device, t.pin_memory)?;
            ahead.push_back((batch, bt));
        }
        let (batch, bt) = ahead.pop_front().expect("filled above");
        let ts = Instant::now();
        let loss = trainer
            .train_step(&bt.image, lr, |logits| {
                loss_cfg.compute(&bt.inputs(logits, &batch)).map_err(|e| iw_models::Error::Loss(e.to_string()))
            })
            .map_err(|e| {
                pb.abandon();
                anyhow::anyhow!("{}: {e}", dir.path().display())
            })?;
        rows.push((step, loss));
        events.scalar("train/loss", step as i64, loss)?;
        events.scalar("train/lr", step as i64, lr)?;
        log.push(TrainLogRow { step, epoch, lr, loss, seconds: ts.elapsed().as_secs_f64() });
        pb.set_message(format!("loss {loss:.4} lr {lr:.1e}"));
        pb.inc(1);
        let end_of_epoch = (step + 1) % t.iterations as u64 == 0;
        let stop = STOP.load(Ordering::Relaxed);
        if end_of_epoch {
            let (mut row, mut msg) =
                (ValidationRow { epoch, step: step + 1, loss: None, dice: None, volume: None }, vec![]);
            if let Some(v) = &patches {
                let (l, d) = v.evaluate(&trainer, &loss_cfg, t.patch, device)?;
                (row.loss, row.dice) = (Some(l), Some(d));
                events.scalar("validation/loss", (step + 1) as i64, l)?;
                events.scalar("validation/dice", (step + 1) as i64, d)?;
                msg.push(format!("patches: loss {l:.4} Dice {d:.3}"));
            }
            if let Some(v) = volumes.as_ref().filter(|_| volume_pass_due(epoch, t.epochs, t.validate_every)) {
                let tv = Instant::now();
                let s = v.evaluate(&trainer, exp, device)?;
                volume_seconds += tv.elapsed().as_secs_f64();
                row.volume = Some(s);
                events.scalar("validation/volume_dice", (step + 1) as i64, s.dice)?;
                events.scalar("validation/fp_per_case", (step + 1) as i64, s.fp_per_case)?;
                events.scalar("validation/volume_ratio", (step + 1) as i64, s.volume_ratio)?;
                msg.push(format!(
                    "whole volumes: Dice {:.3}, {:.1} FP/case, volume x{:.2}",
                    s.dice, s.fp_per_case, s.volume_ratio
                ));
            }
            if !msg.is_empty() {
                val_rows.push(row);
                pb.set_message(format!("loss {loss:.4} lr {lr:.1e}; validation {}", msg.join("; ")));
            }
        }
        if end_of_epoch || stop || step + 1 == total {
            // The logs first, then the checkpoint: killed in between, the run resumes from the
            // previous checkpoint and drops the rows after it; the other way round it would
            // resume past rows it never wrote.
            events.flush()?;
            iw_core::write_file_atomically(&log_path, train_log::format(&log).as_bytes())?;
            iw_core::write_file_atomically(&val_path, format_log(&val_rows).as_bytes())?;
            write_curve(dir, &rows, &val_rows);
            save(&trainer, &last, step + 1)?;
        }
        if stop {
            pb.abandon();
            return Err(iw_run::interrupt::Interrupted(format!(
                "checkpoint written at step {} ({}); rerun the same command to resume",
                step + 1,
                last.display()
            ))
            .into());
        }
    }
    pb.finish_and_clear();
    drop(stream);
    save(&trainer, &fin, total)?;
    let mean_last: f64 =
        rows.iter().rev().take(t.iterations).map(|r| r.1).sum::<f64>() / rows.len().clamp(1, t.iterations) as f64;
    println!("train: {total} steps, mean loss of the last epoch {mean_last:.4}; {}", fin.display());
    record(
        dir,
        "train",
        &format!("{device:?}"),
        t0.elapsed().as_secs_f64(),
        json!({
            "steps": total,
            "resumed_at": start,
            "last_epoch_mean_loss": mean_last,
            "volume_validation_cases": volumes.as_ref().map_or(0, |v| v.cases()),
            "volume_validation_s": volume_seconds,
        }),
    )
}

/// `iw predict`.
pub fn predict(exp: &Experiment, dir: &RunDir) -> anyhow::Result<()> {
    prepare_dir(dir, exp, Stage::Predict)?;
    let fin = dir.final_checkpoint();
    if !fin.is_file() {
        bail!("{}: no trained model (run `iw train` first)", fin.display());
    }
    let ids = split_ids(exp, "test")?;
    std::fs::create_dir_all(dir.predictions())?;
    // Viewer files: the binary prediction (p > 0.5) beside the probabilities, for runs that
    // predicted before it was written.
    for id in &ids {
        let (prob, bin) = (dir.prediction(id, Prediction::Prob), dir.prediction(id, Prediction::Mask));
        if prob.is_file() && !bin.is_file() {
            let p = read_volume(&prob)?.to_f32();
            write_volume(&bin, &Volume::new(p.data.mapv(|v| u8::from(v > 0.5)), p.geometry))?;
        }
    }
    let todo: Vec<&String> = ids
        .iter()
        .filter(|id| {
            !(dir.prediction(id, Prediction::Prob).is_file() && dir.prediction(id, Prediction::Logit).is_file())
        })
        .collect();
    if todo.is_empty() {
        println!("predict: all {} test predictions exist, skipped", ids.len());
        return Ok(());
    }
    let t0 = Instant::now();
    let device = device_of(exp)?;
    let mut trainer = trainer_for(exp, device)?;
    trainer.load_checkpoint(&fin)?;
    let pb = bar(todo.len() as u64, &format!("predict {}", exp.method()));
    for id in todo {
        pb.set_message(format!("case {id}"));
        let case = PreparedCase::open(&exp.dataset.prepared.join("cases"), id)?;
        let [d, h, w] = case.meta.shape_zyx;
        let p = predict_case(&trainer, exp, &case, device)?;
        let g = case.meta.geometry();
        for (kind, t) in [(Prediction::Prob, &p.probs), (Prediction::Logit, &p.logits)] {
            let arr = ndarray::Array3::from_shape_vec((d, h, w), to_f32(t)?)?;
            if kind == Prediction::Prob {
                write_volume(
                    dir.prediction(id, Prediction::Mask),
                    &Volume::new(arr.mapv(|v| u8::from(v > 0.5)), g.clone()),
                )?;
            }
            write_volume(dir.prediction(id, kind), &Volume::new(arr, g.clone()))?;
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    record(dir, "predict", &format!("{device:?}"), t0.elapsed().as_secs_f64(), json!({"cases": ids.len()}))
}

/// `iw run`: train, predict, evaluate.
pub fn run_all(exp: &Experiment, dir: &RunDir) -> anyhow::Result<()> {
    train(exp, dir)?;
    predict(exp, dir)?;
    evaluate(exp, dir)
}
