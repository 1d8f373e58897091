//! The training step and checkpoints (METHOD.md, "Training").
//!
//! SGD with momentum 0.9 and Nesterov, no weight decay, lr 1e-2 times 0.1 once epoch 80 (0-based)
//! has finished (deep_pipe's `Schedule(epoch2value_multiplier={80: 0.1})`: 81 epochs at 1e-2,
//! then 19 at 1e-3),
//! written out rather than taken from libtorch's C++ optimizer so that its momentum buffers are
//! ours to checkpoint. PyTorch's update, step for step (dampening 0):
//!
//! ```text
//! g = grad (+ wd * p);  b = g on the first step, else m b + g;  p -= lr * (g + m b)  (Nesterov)
//! ```
//!
//! A non-finite loss stops training with an error that names the step. Checkpoints are one
//! safetensors file (weights, running statistics, momentum buffers and a JSON blob with the
//! step and whatever the caller adds, e.g. the sampler position), written to a temporary file
//! and renamed, so a run killed at any moment resumes from the last complete checkpoint.
use crate::error::{Error, Result};
use crate::unet::{ResUNet, UNetConfig};
use std::collections::BTreeMap;
use std::path::Path;
use tch::{nn, Device, Kind, Tensor};

/// Optimiser settings.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OptimizerConfig {
    /// Momentum (paper: 0.9).
    pub momentum: f64,
    /// Nesterov momentum (paper: true).
    pub nesterov: bool,
    /// Weight decay (paper: 0).
    pub weight_decay: f64,
    /// Clip the global gradient norm to this value (paper: none).
    pub clip_grad_norm: Option<f64>,
    /// bf16 autocast of the forward pass (CUDA only).
    pub amp_bf16: bool,
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        OptimizerConfig { momentum: 0.9, nesterov: true, weight_decay: 0.0, clip_grad_norm: None, amp_bf16: false }
    }
}

/// Step learning-rate schedule as deep_pipe's `Schedule`: the rate is multiplied by `gamma` when
/// epoch `m` (0-based) of `milestones` has finished, so epoch `e` runs at
/// `base * gamma^(number of milestones < e)`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LrSchedule {
    /// Initial learning rate (paper: 1e-2).
    pub base: f64,
    /// Epochs after which the rate is multiplied by `gamma` (paper: [80]).
    pub milestones: Vec<usize>,
    /// Factor (paper: 0.1).
    pub gamma: f64,
}

impl Default for LrSchedule {
    fn default() -> Self {
        LrSchedule { base: 1e-2, milestones: vec![80], gamma: 0.1 }
    }
}

/// The learning rate of an epoch (0-based).
pub fn lr_at(s: &LrSchedule, epoch: usize) -> f64 {
    s.base * s.gamma.powi(s.milestones.iter().filter(|&&m| m < epoch).count() as i32)
}

/// What a checkpoint holds besides tensors.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Checkpoint {
    /// Optimiser steps taken.
    pub step: u64,
    /// The network's configuration.
    pub model: UNetConfig,
    /// Caller's state (epoch, sampler position, ...).
    pub extra: serde_json::Value,
}

/// The phases of a training step, in order ([`Trainer::train_step_marked`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepPhase {
    /// The network's forward pass.
    Forward,
    /// The loss (with its weights) and its value on the host.
    Loss,
    /// Zeroing the gradients and the backward pass.
    Backward,
    /// The SGD update.
    Optimiser,
}

/// A network, its optimiser state and the step count.
pub struct Trainer {
    /// Variables (weights and BatchNorm statistics).
    pub vs: nn::VarStore,
    /// The network.
    pub model: ResUNet,
    /// Optimiser settings.
    pub opt: OptimizerConfig,
    /// Steps taken.
    pub step: u64,
    momentum: BTreeMap<String, Tensor>,
    /// Channels-last 3D layout (`performance`).
    pub(crate) channels_last: bool,
}

impl Trainer {
    /// A freshly initialised network on `device`, its initialisation seeded by `seed`.
    pub fn new(device: Device, model: UNetConfig, opt: OptimizerConfig, seed: i64) -> Result<Self> {
        tch::manual_seed(seed);
        let vs = nn::VarStore::new(device);
        let model = ResUNet::new(&vs.root(), model)?;
        Ok(Trainer { vs, model, opt, step: 0, momentum: BTreeMap::new(), channels_last: false })
    }

    /// Logits of a batch; bf16 autocast when asked for and on CUDA; the input laid out
    /// channels-last first when [`Trainer::set_channels_last`] is on.
    pub fn forward(&self, image: &Tensor, train: bool) -> Tensor {
        if self.channels_last && image.dim() == 5 && !crate::performance::is_channels_last_3d(image) {
            let x = crate::performance::channels_last_3d(image).expect("a 5-D tensor permutes");
            return self.forward(&x, train);
        }
        if self.opt.amp_bf16 && self.vs.device().is_cuda() {
            tch::autocast(true, || self.model.forward(image, train)).to_kind(Kind::Float)
        } else {
            self.model.forward(image, train)
        }
    }

    /// One optimisation step at learning rate `lr`; returns the loss.
    pub fn train_step(
        &mut self,
        image: &Tensor,
        lr: f64,
        loss_fn: impl FnOnce(&Tensor) -> Result<Tensor>,
    ) -> Result<f64> {
        self.train_step_marked(image, lr, loss_fn, |_| {})
    }

    /// [`Trainer::train_step`], calling `mark` after each phase (for a profile: the caller
    /// synchronises the device and reads its clock there). The phases are
    /// [`StepPhase::Forward`], [`StepPhase::Loss`] (the loss and its value on the host),
    /// [`StepPhase::Backward`] and [`StepPhase::Optimiser`].
    pub fn train_step_marked(
        &mut self,
        image: &Tensor,
        lr: f64,
        loss_fn: impl FnOnce(&Tensor) -> Result<Tensor>,
        mut mark: impl FnMut(StepPhase),
    ) -> Result<f64> {
        self.model.check_input(image)?;
        let logits = self.forward(image, true);
        mark(StepPhase::Forward);
        let loss = loss_fn(&logits)?;
        let value = loss.f_double_value(&[])?;
        mark(StepPhase::Loss);
        if !value.is_finite() {
            return Err(Error::NonFinite { step: self.step, value });
        }
        for v in self.vs.trainable_variables() {
            let mut g = v.grad();
            if g.defined() {
                let _ = g.f_zero_()?;
            }
        }
        loss.f_backward()?;
        mark(StepPhase::Backward);
        self.apply_gradients(lr)?;
        mark(StepPhase::Optimiser);
        self.step += 1;
        Ok(value)
    }

    fn apply_gradients(&mut self, lr: f64) -> Result<()> {
        let vars = self.vs.variables();
        let trainable: Vec<(String, Tensor)> = vars.into_iter().filter(|(_, t)| t.requires_grad()).collect();
        tch::no_grad(|| -> Result<()> {
            if let Some(max_norm) = self.opt.clip_grad_norm {
                let mut total = 0.0;
                for (_, p) in &trainable {
                    let g = p.grad();
                    if g.defined() {
                        total += g.f_square()?.f_sum(Kind::Double)?.f_double_value(&[])?;
                    }
                }
                let norm = total.sqrt();
                if norm > max_norm {
                    let scale = max_norm / (norm + 1e-6);
                    for (_, p) in &trainable {
                        let mut g = p.grad();
                        if g.defined() {
                            let _ = g.f_mul_scalar_(scale)?;
                        }
                    }
                }
            }
            for (name, p) in &trainable {
                let grad = p.grad();
                if !grad.defined() {
                    continue;
                }
                let mut g = grad.shallow_clone();
                if self.opt.weight_decay != 0.0 {
                    g = g.f_add(&(p * self.opt.weight_decay))?;
                }
                let update = if self.opt.momentum != 0.0 {
                    let buf = match self.momentum.get_mut(name) {
                        Some(b) => {
                            let _ = b.f_mul_scalar_(self.opt.momentum)?.f_add_(&g)?;
                            b.shallow_clone()
                        }
                        None => {
                            let b = g.detach().copy();
                            self.momentum.insert(name.clone(), b.shallow_clone());
                            b
                        }
                    };
                    if self.opt.nesterov {
                        g.f_add(&(buf * self.opt.momentum))?
                    } else {
                        buf
                    }
                } else {
                    g
                };
                let mut p = p.shallow_clone();
                let _ = p.f_sub_(&(update * lr))?;
            }
            Ok(())
        })
    }

    /// Writes a checkpoint atomically.
    pub fn save_checkpoint(&self, path: &Path, extra: serde_json::Value) -> Result<()> {
        let err = |m: String| Error::Checkpoint { path: path.display().to_string(), message: m };
        let meta = Checkpoint { step: self.step, model: self.model.config, extra };
        let json = serde_json::to_vec(&meta).map_err(|e| err(e.to_string()))?;
        let mut named: Vec<(String, Tensor)> = self
            .vs
            .variables()
            .into_iter()
            .map(|(k, v)| (format!("model/{k}"), v.detach().to_device(Device::Cpu).contiguous()))
            .collect();
        for (k, v) in &self.momentum {
            named.push((format!("momentum/{k}"), v.to_device(Device::Cpu).contiguous()));
        }
        named.push(("meta/json".into(), Tensor::from_slice(&json)));
        let tmp = path.with_file_name(format!(
            ".iwtmp-{}-{}",
            std::process::id(),
            path.file_name().unwrap_or_default().to_string_lossy()
        ));
        let refs: Vec<(&str, &Tensor)> = named.iter().map(|(k, v)| (k.as_str(), v)).collect();
        Tensor::write_safetensors(&refs, &tmp).map_err(|e| err(format!("writing: {e}")))?;
        std::fs::rename(&tmp, path).map_err(|e| err(format!("renaming into place: {e}")))?;
        Ok(())
    }

    /// Restores weights, statistics, momentum and step; returns the checkpoint's metadata.
    pub fn load_checkpoint(&mut self, path: &Path) -> Result<Checkpoint> {
        let err = |m: String| Error::Checkpoint { path: path.display().to_string(), message: m };
        let named: BTreeMap<String, Tensor> = Tensor::read_safetensors(path)
            .map_err(|e| err(format!("not a readable checkpoint: {e}")))?
            .into_iter()
            .collect();
        let meta_t = named.get("meta/json").ok_or_else(|| err("no meta/json entry".into()))?;
        let bytes: Vec<u8> = Vec::<u8>::try_from(meta_t).map_err(|e| err(e.to_string()))?;
        let meta: Checkpoint = serde_json::from_slice(&bytes).map_err(|e| err(format!("bad metadata: {e}")))?;
        if meta.model != self.model.config {
            return Err(err(format!(
                "checkpoint model {:?} differs from the configured {:?}",
                meta.model, self.model.config
            )));
        }
        let device = self.vs.device();
        tch::no_grad(|| -> Result<()> {
            for (k, mut v) in self.vs.variables() {
                let src = named.get(&format!("model/{k}")).ok_or_else(|| err(format!("missing model/{k}")))?;
                v.f_copy_(&src.to_device(device))?;
            }
            Ok(())
        })?;
        self.momentum = named
            .iter()
            .filter_map(|(k, v)| k.strip_prefix("momentum/").map(|n| (n.to_string(), v.to_device(device))))
            .collect();
        self.step = meta.step;
        Ok(meta)
    }
}
