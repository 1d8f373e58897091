//! One place that names a loss configuration: the base loss, inverse weighting on or
//! off with its clip bounds, and an optional instance-aware wrapper (blob, CC).
//!
//! Names: `[blob-|cc-][iw]<base>` with base `bce`, `wce`, `dl`, `gdl`, `fl`, `asl` or `dlbce`
//! (Dice + BCE). The paper's ten configurations are `bce, iwbce, wce, dl, iwdl, gdl, fl, iwfl,
//! asl, iwasl` ([`PAPER_CONFIGURATIONS`]).
//!
//! This is the configuration only; `iw_losses::Compute` computes a configuration on tensors.
use crate::{Error, Result};

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
                return Err(Error::Loss(format!("unknown base loss '{other}' (bce, wce, dl, gdl, fl, asl, dlbce)")))
            }
        })
    }

    /// Whether the loss is a mean over voxels (rather than a ratio of sums).
    pub fn is_voxelwise(&self) -> bool {
        matches!(self, BaseLoss::Bce | BaseLoss::Wce | BaseLoss::Focal { .. })
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
            return Err(Error::Loss(format!(
                "iw clip bounds need 0 <= w_min <= w_max, got [{}, {}]",
                self.w_min, self.w_max
            )));
        }
        match self.base {
            BaseLoss::Focal { gamma, alpha } if !(gamma >= 0.0 && (0.0..=1.0).contains(&alpha)) => Err(Error::Loss(
                format!("focal needs gamma >= 0 and alpha in [0, 1], got gamma {gamma}, alpha {alpha}"),
            )),
            BaseLoss::AsymmetricSimilarity { beta } if beta.is_nan() || beta <= 0.0 => {
                Err(Error::Loss(format!("asl needs beta > 0, got {beta}")))
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
}
