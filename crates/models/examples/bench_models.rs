//! Timings of iw-models for `make bench` and scripts/gpu/check.sh (scripts/bench/models_peer.py
//! is the PyTorch peer, with the same options).
//!
//! ```text
//! bench_models train --size 64 [--patch D,H,W] [--reps 3] [--width 1] [--depth 3] [--threads N]
//!                    [--device cpu|cuda] [--loss bce|iwdl]
//!                    [--bf16] [--channels-last] [--cudnn-benchmark] [--pin] [--profile]
//!     one training step: forward, loss, backward, SGD-Nesterov update, batch 2 x 1 x size^3
//!     (or 2 x 1 x D x H x W with --patch; the CPU scale: --patch 16,32,32 --width 0.25 --threads 1).
//!     --profile: phase by phase, the device synchronised between phases: host batch (the
//!     sampler's part: a random image, its mask and, for iwdl, the mask's components),
//!     host-to-device copy, forward, loss (with the inverse weights), backward, optimiser;
//!     prints one JSON line of medians in seconds.
//! bench_models infer --shape 128,256,256 [--reps 1] [--device cpu|cuda]
//!     sliding-window inference (the paper grid: patch 160, stride 144) of a D,H,W volume
//! ```
use iw_losses::{Compute, LossConfig, LossInputs};
use iw_models::{
    set_cudnn_benchmark, sliding_window, upload, InferenceConfig, OptimizerConfig, StepPhase, Trainer, UNetConfig,
};
use iw_test_support::bench::time;
use std::time::Instant;
use tch::{Device, Kind, Tensor};

/// A host batch: image, target and (for the iw losses) component labels, as the sampler gives.
fn host_batch(p: [i64; 3], step: i64, with_labels: bool) -> (Tensor, Tensor, Option<(Tensor, i64)>) {
    tch::manual_seed(100 + step);
    let x = Tensor::randn([2, 1, p[0], p[1], p[2]], (Kind::Float, Device::Cpu));
    let y = x.gt(2.0).to_kind(Kind::Float);
    let labels = with_labels.then(|| {
        let mask: Vec<u8> = Vec::try_from(y.flatten(0, -1).to_kind(Kind::Uint8)).expect("a u8 mask");
        let per = (p[0] * p[1] * p[2]) as usize;
        let mut all = Vec::with_capacity(2 * per);
        let mut max = 0i64;
        for b in 0..2 {
            let m = ndarray::ArrayView3::from_shape(
                (p[0] as usize, p[1] as usize, p[2] as usize),
                &mask[b * per..(b + 1) * per],
            )
            .expect("shape");
            let c = iw_core::label(m, iw_core::Connectivity::C26);
            max = max.max(c.count() as i64);
            all.extend(c.labels.iter().map(|&l| l as i64));
        }
        (Tensor::from_slice(&all).reshape([2, 1, p[0], p[1], p[2]]), max)
    });
    (x, y, labels)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let opt = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let flag = |name: &str| args.iter().any(|a| a == name);
    let reps: usize = opt("--reps").and_then(|v| v.parse().ok()).unwrap_or(3);
    let width: f64 = opt("--width").and_then(|v| v.parse().ok()).unwrap_or(1.0);
    let device = if opt("--device").as_deref() == Some("cuda") { Device::Cuda(0) } else { Device::Cpu };
    let sync = || {
        if let Device::Cuda(i) = device {
            tch::Cuda::synchronize(i as i64);
        }
    };
    let depth: usize = opt("--depth").and_then(|v| v.parse().ok()).unwrap_or(3);
    if let Some(n) = opt("--threads").and_then(|v| v.parse().ok()) {
        tch::set_num_threads(n);
    }
    let cfg = UNetConfig { width, depth, ..UNetConfig::default() };
    let o = OptimizerConfig { amp_bf16: flag("--bf16"), ..OptimizerConfig::default() };
    let mut t = Trainer::new(device, cfg, o, 0).expect("model");
    t.set_channels_last(flag("--channels-last")).expect("channels-last");
    if device.is_cuda() {
        set_cudnn_benchmark(flag("--cudnn-benchmark"));
    }
    let times = match args.get(1).map(String::as_str) {
        Some("train") => {
            let n: i64 = opt("--size").and_then(|v| v.parse().ok()).unwrap_or(64);
            let n: [i64; 3] = match opt("--patch") {
                Some(p) => {
                    let v: Vec<i64> = p.split(',').map(|x| x.parse().expect("--patch D,H,W")).collect();
                    [v[0], v[1], v[2]]
                }
                None => [n, n, n],
            };
            let loss_name = opt("--loss").unwrap_or_else(|| "bce".into());
            let loss = LossConfig::from_name(&loss_name).expect("--loss: a loss name (bce, iwdl, ...)");
            let iw = loss.inverse_weighting || !matches!(loss.instance, iw_losses::Instance::None);
            let pinned = flag("--pin");
            if flag("--profile") {
                let names = ["host_batch", "h2d", "forward", "loss", "backward", "optimiser", "step"];
                let mut rows: Vec<[f64; 7]> = Vec::new();
                for step in 0..(reps as i64 + 2) {
                    let t0 = Instant::now();
                    let (x, y, labels) = host_batch(n, step, iw);
                    let t1 = Instant::now();
                    let xd = upload(&x, device, pinned).expect("upload");
                    let yd = upload(&y, device, pinned).expect("upload");
                    let ld = labels.as_ref().map(|(l, m)| (upload(l, device, pinned).expect("upload"), *m));
                    sync();
                    let t2 = Instant::now();
                    let mut marks = Vec::with_capacity(4);
                    t.train_step_marked(
                        &xd,
                        0.01,
                        |logits| {
                            let inputs = LossInputs {
                                logits,
                                target: &yd,
                                labels: ld.as_ref().map(|(l, _)| l),
                                regions: None,
                                max_label: ld.as_ref().map(|(_, m)| *m),
                            };
                            loss.compute(&inputs).map_err(|e| iw_models::Error::Loss(e.to_string()))
                        },
                        |_: StepPhase| {
                            sync();
                            marks.push(Instant::now());
                        },
                    )
                    .expect("step");
                    if step >= 2 {
                        let d = |a: Instant, b: Instant| (b - a).as_secs_f64();
                        rows.push([
                            d(t0, t1),
                            d(t1, t2),
                            d(t2, marks[0]),
                            d(marks[0], marks[1]),
                            d(marks[1], marks[2]),
                            d(marks[2], marks[3]),
                            d(t2, marks[3]),
                        ]);
                    }
                }
                let med = |i: usize| {
                    let mut v: Vec<f64> = rows.iter().map(|r| r[i]).collect();
                    v.sort_by(f64::total_cmp);
                    v[v.len() / 2]
                };
                let fields: Vec<String> =
                    names.iter().enumerate().map(|(i, k)| format!("\"{k}_s\": {:.6}", med(i))).collect();
                println!("{{\"loss\": \"{loss_name}\", \"reps\": {}, {}}}", rows.len(), fields.join(", "));
                return;
            }
            let (x, y, labels) = host_batch(n, 1, iw);
            let (x, y) = (x.to_device(device), y.to_device(device));
            let labels = labels.map(|(l, m)| (l.to_device(device), m));
            let mut step = || {
                t.train_step(&x, 0.01, |logits| {
                    let inputs = LossInputs {
                        logits,
                        target: &y,
                        labels: labels.as_ref().map(|(l, _)| l),
                        regions: None,
                        max_label: labels.as_ref().map(|(_, m)| *m),
                    };
                    loss.compute(&inputs).map_err(|e| iw_models::Error::Loss(e.to_string()))
                })
                .expect("step");
                sync();
            };
            time(1, reps, &mut step)
        }
        Some("infer") => {
            let s: Vec<i64> = opt("--shape")
                .unwrap_or_else(|| "128,256,256".into())
                .split(',')
                .map(|v| v.parse().expect("D,H,W"))
                .collect();
            tch::manual_seed(2);
            let vol = Tensor::randn([s[0], s[1], s[2]], (Kind::Float, Device::Cpu));
            let icfg = InferenceConfig::default();
            time(0, reps, || {
                let p = sliding_window(&vol, &icfg, device, |x| Ok(t.forward(x, false))).expect("inference");
                sync();
                p.probs
            })
        }
        _ => {
            eprintln!("usage: bench_models train|infer ...");
            std::process::exit(2);
        }
    };
    println!("{}", times.json(None));
}
