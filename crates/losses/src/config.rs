//! One place that computes a loss from its configuration: the base loss, inverse weighting on or
//! off with its clip bounds, and an optional instance-aware wrapper (blob, CC).
//!
//! Names: `[blob-|cc-][iw]<base>` with base `bce`, `wce`, `dl`, `gdl`, `fl`, `asl` or `dlbce`
//! (Dice + BCE). The paper's ten configurations are `bce, iwbce, wce, dl, iwdl, gdl, fl, iwfl,
//! asl, iwasl` ([`PAPER_CONFIGURATIONS`]).
//!
//! The configuration itself (names, parameters, ranges) is `iw_config::loss`, re-exported here;
//! this module adds what needs tensors: [`Compute`] for a [`LossConfig`] and [`BaseValue`] for a
//! [`BaseLoss`].
use crate::error::{Error, Result};
use crate::{instance, region, voxel, weights};
use tch::Tensor;

pub use iw_config::loss::{BaseLoss, Instance, LossConfig, PAPER_CONFIGURATIONS};

impl From<iw_config::Error> for Error {
    fn from(e: iw_config::Error) -> Self {
        match e {
            iw_config::Error::Loss(m) => Error::Config(m),
            other => Error::Config(other.to_string()),
        }
    }
}

/// The value of a base loss on tensors.
pub trait BaseValue {
    /// The loss value.
    fn value(&self, logits: &Tensor, target: &Tensor, weight: Option<&Tensor>) -> Result<Tensor>;
}

impl BaseValue for BaseLoss {
    fn value(&self, logits: &Tensor, target: &Tensor, weight: Option<&Tensor>) -> Result<Tensor> {
        match *self {
            BaseLoss::Bce => voxel::bce(logits, target, weight),
            BaseLoss::Wce => voxel::wce(logits, target, weight),
            BaseLoss::Dice => region::dice(logits, target, weight),
            BaseLoss::GeneralizedDice => region::generalized_dice(logits, target, weight),
            BaseLoss::Focal { gamma, alpha } => voxel::focal(logits, target, weight, gamma, alpha),
            BaseLoss::AsymmetricSimilarity { beta } => region::asymmetric_similarity(logits, target, weight, beta),
            BaseLoss::DiceBce => Ok(region::dice(logits, target, weight)? + voxel::bce(logits, target, weight)?),
        }
    }
}

/// What a loss is computed from; `labels` (component labels of the target patch, not
/// renumbered after the crop) are needed by iw and blob, `regions` by CC.
pub struct LossInputs<'a> {
    /// Logits `[B, 1, D, H, W]`.
    pub logits: &'a Tensor,
    /// Target in {0, 1}, same shape.
    pub target: &'a Tensor,
    /// Component labels, same shape, integers.
    pub labels: Option<&'a Tensor>,
    /// Voronoi region ids, same shape, integers.
    pub regions: Option<&'a Tensor>,
    /// An upper bound of `labels` (avoids a host round trip on CUDA).
    pub max_label: Option<i64>,
}

/// A loss configuration computed on a batch.
pub trait Compute {
    /// The loss of a batch.
    fn compute(&self, inputs: &LossInputs<'_>) -> Result<Tensor>;
}

impl Compute for LossConfig {
    fn compute(&self, inputs: &LossInputs<'_>) -> Result<Tensor> {
        let missing = |what: &str| Error::Config(format!("loss '{}' needs {what}", self.name()));
        let weight = if self.inverse_weighting {
            let labels = inputs.labels.ok_or_else(|| missing("component labels"))?;
            Some(weights::inverse_weights(labels, inputs.max_label, self.w_min, self.w_max)?)
        } else {
            None
        };
        let base = |x: &Tensor, t: &Tensor, w: Option<&Tensor>| self.base.value(x, t, w);
        match self.instance {
            Instance::None => self.base.value(inputs.logits, inputs.target, weight.as_ref()),
            Instance::Blob { alpha, beta } => {
                let labels = inputs.labels.ok_or_else(|| missing("component labels"))?;
                instance::blob(
                    inputs.logits,
                    inputs.target,
                    labels,
                    weight.as_ref(),
                    (alpha, beta),
                    self.base.is_voxelwise(),
                    base,
                )
            }
            Instance::ConnectedComponents => {
                let regions = inputs.regions.ok_or_else(|| missing("Voronoi regions"))?;
                instance::connected_components(
                    inputs.logits,
                    inputs.target,
                    regions,
                    weight.as_ref(),
                    self.base.is_voxelwise(),
                    base,
                )
            }
        }
    }
}
