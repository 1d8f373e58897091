//! One place that builds a loss from its configuration: the base loss, inverse weighting on or
//! off with its clip bounds, and an optional instance-aware wrapper (blob, CC).
//!
//! Names: `[blob-|cc-][iw]<base>` with base `bce`, `wce`, `dl`, `gdl`, `fl`, `asl` or `dlbce`
//! (Dice + BCE). The paper's ten configurations are `bce, iwbce, wce, dl, iwdl, gdl, fl, iwfl,
//! asl, iwasl` ([`PAPER_CONFIGURATIONS`]).
use crate::error::{Error, Result};
use crate::{instance, region, voxel, weights};
use tch::Tensor;

/// The paper's ten loss configurations.
pub const PAPER_CONFIGURATIONS: [&str; 10] = ["bce", "iwbce", "wce", "dl", "iwdl", "gdl", "fl", "iwfl", "asl", "iwasl"];

/// A base loss and its parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BaseLoss {
    /// Binary cross-entropy.
    Bce,
    /// Adaptive weighted cross-entropy.
    Wce,
    /// Soft Dice.
    Dice,
    /// Generalized Dice (fg and bg).
    GeneralizedDice,
    /// Focal (paper: gamma 2, alpha 0.75).
    Focal {
        /// Focusing exponent.
        gamma: f64,
        /// Foreground weight.
        alpha: f64,
    },
    /// Asymmetric similarity (paper: beta 1.5).
    AsymmetricSimilarity {
        /// Recall/precision trade-off.
        beta: f64,
    },
    /// Dice + BCE (nnU-Net's default), the base of the CC loss.
    DiceBce,
}

impl BaseLoss {
    /// The short name (`bce`, `dl`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            BaseLoss::Bce => "bce",
            BaseLoss::Wce => "wce",
            BaseLoss::Dice => "dl",
            BaseLoss::GeneralizedDice => "gdl",
            BaseLoss::Focal { .. } => "fl",
            BaseLoss::AsymmetricSimilarity { .. } => "asl",
            BaseLoss::DiceBce => "dlbce",
        }
    }

    /// From a short name, with the paper's parameters.
    pub fn from_name(name: &str) -> Result<Self> {
        Ok(match name {
            "bce" => BaseLoss::Bce,
            "wce" => BaseLoss::Wce,
            "dl" => BaseLoss::Dice,
            "gdl" => BaseLoss::GeneralizedDice,
            "fl" => BaseLoss::Focal { gamma: 2.0, alpha: 0.75 },
            "asl" => BaseLoss::AsymmetricSimilarity { beta: 1.5 },
            "dlbce" => BaseLoss::DiceBce,
            other => {
                return Err(Error::Config(format!("unknown base loss '{other}' (bce, wce, dl, gdl, fl, asl, dlbce)")))
            }
        })
    }

    /// Whether the loss is a mean over voxels (rather than a ratio of sums).
    pub fn is_voxelwise(&self) -> bool {
        matches!(self, BaseLoss::Bce | BaseLoss::Wce | BaseLoss::Focal { .. })
    }

    /// The loss value.
    pub fn value(&self, logits: &Tensor, target: &Tensor, weight: Option<&Tensor>) -> Result<Tensor> {
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

/// An instance-aware wrapper.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Instance {
    /// The base loss alone.
    None,
    /// Blob loss (reference: alpha 2, beta 1).
    Blob {
        /// Weight of the global term.
        alpha: f64,
        /// Weight of the per-component term.
        beta: f64,
    },
    /// CC loss: the base averaged over the GT components' Voronoi regions.
    ConnectedComponents,
}

/// A complete loss configuration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LossConfig {
    /// The base loss.
    pub base: BaseLoss,
    /// Inverse weighting on.
    pub inverse_weighting: bool,
    /// Lower clip bound of the weights (paper: 1).
    pub w_min: f64,
    /// Upper clip bound of the weights (paper: 2e5).
    pub w_max: f64,
    /// Instance-aware wrapper.
    pub instance: Instance,
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

impl LossConfig {
    /// From a name (`iwdl`, `blob-dl`, `cc-dlbce`, ...), with the paper's parameters.
    pub fn from_name(name: &str) -> Result<Self> {
        let (instance, rest) = if let Some(r) = name.strip_prefix("blob-") {
            (Instance::Blob { alpha: 2.0, beta: 1.0 }, r)
        } else if let Some(r) = name.strip_prefix("cc-") {
            (Instance::ConnectedComponents, r)
        } else {
            (Instance::None, name)
        };
        let (iw, base) = match rest.strip_prefix("iw") {
            Some(b) => (true, b),
            None => (false, rest),
        };
        let cfg =
            LossConfig { base: BaseLoss::from_name(base)?, inverse_weighting: iw, w_min: 1.0, w_max: 2e5, instance };
        cfg.validate()?;
        Ok(cfg)
    }

    /// The configuration's name, the inverse of [`LossConfig::from_name`].
    pub fn name(&self) -> String {
        let prefix = match self.instance {
            Instance::None => "",
            Instance::Blob { .. } => "blob-",
            Instance::ConnectedComponents => "cc-",
        };
        format!("{prefix}{}{}", if self.inverse_weighting { "iw" } else { "" }, self.base.name())
    }

    /// Checks the parameters' ranges.
    pub fn validate(&self) -> Result<()> {
        if !(self.w_min.is_finite() && self.w_max.is_finite() && 0.0 <= self.w_min && self.w_min <= self.w_max) {
            return Err(Error::Config(format!(
                "iw clip bounds need 0 <= w_min <= w_max, got [{}, {}]",
                self.w_min, self.w_max
            )));
        }
        match self.base {
            BaseLoss::Focal { gamma, alpha } if !(gamma >= 0.0 && (0.0..=1.0).contains(&alpha)) => Err(Error::Config(
                format!("focal needs gamma >= 0 and alpha in [0, 1], got gamma {gamma}, alpha {alpha}"),
            )),
            BaseLoss::AsymmetricSimilarity { beta } if beta.is_nan() || beta <= 0.0 => {
                Err(Error::Config(format!("asl needs beta > 0, got {beta}")))
            }
            _ => Ok(()),
        }
    }

    /// Whether component labels must be supplied.
    pub fn needs_labels(&self) -> bool {
        self.inverse_weighting || matches!(self.instance, Instance::Blob { .. })
    }

    /// Whether Voronoi regions must be supplied.
    pub fn needs_regions(&self) -> bool {
        matches!(self.instance, Instance::ConnectedComponents)
    }

    /// The loss of a batch.
    pub fn compute(&self, inputs: &LossInputs<'_>) -> Result<Tensor> {
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
                    alpha,
                    beta,
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
