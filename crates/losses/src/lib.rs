//! `iw-losses`: the losses of the paper as libtorch ops that run wherever their tensors are
//! (CPU or CUDA), with the inverse weighting of Shirokikh et al. 2020 and the instance-aware
//! losses that followed it.
//!
//! * Voxel-wise ([`bce`], [`wce`], [`focal`]) and region ([`dice`], [`generalized_dice`],
//!   [`asymmetric_similarity`]) losses take logits, a target and an optional per-voxel weight;
//!   shapes are checked first and a mismatch is an error that says both shapes.
//! * [`inverse_weights`]: the weights from a batch of component-label patches, on device.
//! * [`blob`] and [`connected_components`]: per-component wrappers around any base loss.
//! * [`LossConfig`]: the one place that builds a loss from its name and parameters
//!   (`iwdl`, `fl`, `blob-iwdl`, `cc-dlbce`, ...).
//!
//! Tensors are `[B, 1, D, H, W]` (any shape with the batch first works).
#![deny(missing_docs)]

mod check;
mod config;
mod error;
mod instance;
mod region;
mod voxel;
mod weights;

pub use config::{BaseLoss, BaseValue, Compute, Instance, LossConfig, LossInputs, PAPER_CONFIGURATIONS};
pub use error::{Error, Result};
pub use instance::{blob, connected_components};
pub use region::{asymmetric_similarity, dice, generalized_dice, EPS};
pub use voxel::{bce, focal, wce, wce_pos_weight, weighted_bce};
pub use weights::inverse_weights;
