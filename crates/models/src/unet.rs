//! The paper's 3D residual U-Net (METHOD.md, "Model"), pre-activation blocks throughout.
//!
//! ```text
//! PreAct(ci, co, k)   = Conv3d(ci, co, k, pad k/2, bias) . ReLU . BatchNorm3d(ci)
//! ResBlock(ci, co, k) = PreAct(co, co, k, no bias) . PreAct(ci, co, k, no bias)  +  shortcut
//!                       shortcut = Conv3d(ci, co, 1, no bias) when ci != co, else identity
//!
//! init    Conv3d(in, 16, 3, pad 1, no bias) -> PreAct(16, 16, 3)
//! level l ResBlocks down[l] -> skip_l = PreAct(c, c, 1)(output)  ("middle" path)
//!         MaxPool3d(2, ceil) between levels
//!         down: [16,16,16], [16,64,64], [64,128,128]
//! bridge  ResBlocks [128, 256, 256, 128]
//! up      deepest first: x = up[l](skip_l + trilinear(x, size of skip_l, align_corners))
//!         up: [128,128,64], [64,64,16], [16,16,16]
//! head    ResBlock(16, 16, 1) -> PreAct(16, out, 1, no bias) -> BatchNorm3d(out)   (logits)
//! ```
//!
//! A list `[a, b, c]` is the chain ResBlock(a, b), ResBlock(b, c). With width 1 and depth 3
//! this is the paper's network: 11,074,306 parameters. `width` scales every channel count;
//! `depth` is the number of encoder levels (level channels 16, 64, 128, 256, ...; the bridge
//! doubles the last). Checkpoint keys are the module paths (`down.1.0.act1.bn.weight`), the
//! same as the PyTorch reference's state_dict in tests/golden/unet_reference.py.
//!
//! Initialisation is PyTorch's default, with which the paper trained (the authors' code sets
//! none): every convolution's weight and bias uniform in `[-1/sqrt(fan_in), 1/sqrt(fan_in)]`,
//! `fan_in = in_channels * k^3` (`kaiming_uniform_(a = sqrt(5))`); BatchNorm weight 1, bias 0.
//! tch's own default (Kaiming-uniform with gain sqrt(2), zero bias) starts ~2.4x larger.
use crate::error::{Error, Result};
use tch::nn::{self, ModuleT};
use tch::Tensor;

/// Network shape.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct UNetConfig {
    /// Input channels.
    pub in_channels: i64,
    /// Output channels (logits).
    pub out_channels: i64,
    /// Channel multiplier (paper: 1).
    pub width: f64,
    /// Encoder levels (paper: 3).
    pub depth: usize,
}

impl Default for UNetConfig {
    fn default() -> Self {
        UNetConfig { in_channels: 1, out_channels: 1, width: 1.0, depth: 3 }
    }
}

impl UNetConfig {
    fn ch(&self, c: i64) -> i64 {
        ((c as f64 * self.width).round() as i64).max(1)
    }
    /// Channel count of each level, init first: `[16, 16, 64, 128]` for the paper.
    fn levels(&self) -> Vec<i64> {
        let base = [16i64, 64, 128, 256, 512, 1024];
        let mut v = vec![self.ch(16)];
        v.extend(base.iter().take(self.depth).map(|&c| self.ch(c)));
        v
    }
    /// Checks the configuration.
    pub fn validate(&self) -> Result<()> {
        if !(1..=6).contains(&self.depth) {
            return Err(Error::Config(format!("depth must be 1..6, got {}", self.depth)));
        }
        if !(self.width.is_finite() && self.width > 0.0) {
            return Err(Error::Config(format!("width must be > 0, got {}", self.width)));
        }
        if self.in_channels < 1 || self.out_channels < 1 {
            return Err(Error::Config("channel counts must be >= 1".into()));
        }
        Ok(())
    }
    /// The input size must be a multiple of this (one halving per level below the first).
    pub fn divisor(&self) -> i64 {
        1 << self.depth
    }
}

/// A 3D convolution initialised as PyTorch's `nn.Conv3d` is (see the module docs).
fn conv3d(p: nn::Path, ci: i64, co: i64, k: i64, padding: i64, bias: bool) -> nn::Conv3D {
    let bound = 1.0 / ((ci * k * k * k) as f64).sqrt();
    let uniform = nn::Init::Uniform { lo: -bound, up: bound };
    nn::conv3d(p, ci, co, k, nn::ConvConfig { padding, bias, ws_init: uniform, bs_init: uniform, ..Default::default() })
}

fn bn(p: nn::Path, c: i64) -> nn::BatchNorm {
    nn::batch_norm3d(p, c, nn::BatchNormConfig { ws_init: nn::Init::Const(1.0), ..Default::default() })
}

/// BatchNorm -> ReLU -> Conv.
#[derive(Debug)]
pub struct PreAct {
    bn: nn::BatchNorm,
    conv: nn::Conv3D,
}

impl PreAct {
    fn new(p: nn::Path, ci: i64, co: i64, k: i64, bias: bool) -> Self {
        PreAct { bn: bn(&p / "bn", ci), conv: conv3d(&p / "conv", ci, co, k, k / 2, bias) }
    }
}

impl ModuleT for PreAct {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        xs.apply_t(&self.bn, train).relu().apply(&self.conv)
    }
}

/// Two pre-activation convolutions plus a residual shortcut.
#[derive(Debug)]
pub struct ResBlock {
    act1: PreAct,
    act2: PreAct,
    shortcut: Option<nn::Conv3D>,
}

impl ResBlock {
    fn new(p: nn::Path, ci: i64, co: i64, k: i64) -> Self {
        let shortcut = (ci != co).then(|| conv3d(&p / "shortcut", ci, co, 1, 0, false));
        ResBlock {
            act1: PreAct::new(&p / "act1", ci, co, k, false),
            act2: PreAct::new(&p / "act2", co, co, k, false),
            shortcut,
        }
    }
}

impl ModuleT for ResBlock {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let y = xs.apply_t(&self.act1, train).apply_t(&self.act2, train);
        match &self.shortcut {
            Some(s) => y + xs.apply(s),
            None => y + xs,
        }
    }
}

fn chain(p: nn::Path, chs: &[i64], k: i64) -> Vec<ResBlock> {
    chs.windows(2).enumerate().map(|(i, w)| ResBlock::new(&p / i as i64, w[0], w[1], k)).collect()
}

fn run(blocks: &[ResBlock], x: Tensor, train: bool) -> Tensor {
    blocks.iter().fold(x, |x, b| x.apply_t(b, train))
}

/// The 3D residual U-Net.
#[derive(Debug)]
pub struct ResUNet {
    /// Its configuration.
    pub config: UNetConfig,
    init: nn::Conv3D,
    init_act: PreAct,
    down: Vec<Vec<ResBlock>>,
    lateral: Vec<PreAct>,
    bridge: Vec<ResBlock>,
    up: Vec<Vec<ResBlock>>,
    head_block: ResBlock,
    head_act: PreAct,
    head_bn: nn::BatchNorm,
}

/// One line of a model summary.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerInfo {
    /// Module path.
    pub name: String,
    /// What it is.
    pub kind: String,
    /// Output shape `[C, D, H, W]` for one sample.
    pub output: [i64; 4],
    /// Parameters.
    pub params: i64,
}

impl ResUNet {
    /// Builds the network under `p`.
    pub fn new(p: &nn::Path, config: UNetConfig) -> Result<Self> {
        config.validate()?;
        let c = config.levels();
        let f = c[0];
        let d = config.depth;
        let down = (0..d).map(|l| chain(p / "down" / l as i64, &[c[l], c[l + 1], c[l + 1]], 3)).collect();
        let lateral = (0..d).map(|l| PreAct::new(p / "lateral" / l as i64, c[l + 1], c[l + 1], 1, true)).collect();
        let last = c[d];
        let bridge = chain(p / "bridge", &[last, 2 * last, 2 * last, last], 3);
        let up = (0..d).map(|l| chain(p / "up" / l as i64, &[c[l + 1], c[l + 1], c[l]], 3)).collect();
        Ok(ResUNet {
            config,
            init: conv3d(p / "init", config.in_channels, f, 3, 1, false),
            init_act: PreAct::new(p / "init_act", f, f, 3, true),
            down,
            lateral,
            bridge,
            up,
            head_block: ResBlock::new(p / "head_block", f, f, 1),
            head_act: PreAct::new(p / "head_act", f, config.out_channels, 1, false),
            head_bn: bn(p / "head_bn", config.out_channels),
        })
    }

    /// Checks an input `[N, C, D, H, W]`.
    pub fn check_input(&self, xs: &Tensor) -> Result<()> {
        let s = xs.size();
        if s.len() != 5 || s[1] != self.config.in_channels {
            return Err(Error::Shape(format!(
                "model input must be [N, {}, D, H, W], got {s:?}",
                self.config.in_channels
            )));
        }
        Ok(())
    }

    /// Logits, `[N, out, D, H, W]`.
    pub fn forward(&self, xs: &Tensor, train: bool) -> Tensor {
        let mut x = xs.apply(&self.init).apply_t(&self.init_act, train);
        let mut skips = Vec::with_capacity(self.down.len());
        for (l, blocks) in self.down.iter().enumerate() {
            x = run(blocks, x, train);
            skips.push(x.apply_t(&self.lateral[l], train));
            x = x.max_pool3d([2, 2, 2], [2, 2, 2], [0, 0, 0], [1, 1, 1], true);
        }
        x = run(&self.bridge, x, train);
        for (l, blocks) in self.up.iter().enumerate().rev() {
            let skip = skips.pop().expect("one skip per level");
            let s = skip.size();
            let upx = x.upsample_trilinear3d([s[2], s[3], s[4]], true, None, None, None);
            x = run(blocks, skip + upx, train);
            let _ = l;
        }
        let x = x.apply_t(&self.head_block, train).apply_t(&self.head_act, train);
        x.apply_t(&self.head_bn, train)
    }

    /// Layer-by-layer summary for an input of `patch_dhw` (analytic shapes, no forward pass).
    pub fn summary(&self, vs: &nn::VarStore, patch_dhw: [i64; 3]) -> Vec<LayerInfo> {
        let vars = vs.variables();
        let params_under = |prefix: &str| -> i64 {
            vars.iter()
                .filter(|(k, _)| {
                    k.starts_with(prefix) && (k.len() == prefix.len() || k.as_bytes()[prefix.len()] == b'.')
                })
                .map(
                    |(k, v)| {
                        if k.ends_with("running_mean") || k.ends_with("running_var") {
                            0
                        } else {
                            v.numel() as i64
                        }
                    },
                )
                .sum()
        };
        let c = self.config.levels();
        let d = self.config.depth;
        let mut out = Vec::new();
        let mut size = patch_dhw;
        let mut push = |name: String, kind: &str, ch: i64, size: [i64; 3]| {
            let params = params_under(&name);
            out.push(LayerInfo { name, kind: kind.into(), output: [ch, size[0], size[1], size[2]], params });
        };
        push("init".into(), "Conv3d 3x3x3", c[0], size);
        push("init_act".into(), "PreAct 3x3x3", c[0], size);
        let mut sizes = Vec::new();
        for l in 0..d {
            for b in 0..2 {
                push(format!("down.{l}.{b}"), "ResBlock 3x3x3", c[l + 1], size);
            }
            push(format!("lateral.{l}"), "PreAct 1x1x1 (skip)", c[l + 1], size);
            sizes.push(size);
            size = size.map(|s| (s + 1) / 2);
            push(format!("pool.{l}"), "MaxPool3d 2", c[l + 1], size);
        }
        let last = c[d];
        for (b, ch) in [2 * last, 2 * last, last].into_iter().enumerate() {
            push(format!("bridge.{b}"), "ResBlock 3x3x3", ch, size);
        }
        for l in (0..d).rev() {
            size = sizes[l];
            push(format!("merge.{l}"), "Upsample trilinear + add", c[l + 1], size);
            push(format!("up.{l}.0"), "ResBlock 3x3x3", c[l + 1], size);
            push(format!("up.{l}.1"), "ResBlock 3x3x3", c[l], size);
        }
        push("head_block".into(), "ResBlock 1x1x1", c[0], size);
        push("head_act".into(), "PreAct 1x1x1", self.config.out_channels, size);
        push("head_bn".into(), "BatchNorm3d", self.config.out_channels, size);
        out
    }
}

/// Trainable parameters of a var store (running statistics excluded).
pub fn parameter_count(vs: &nn::VarStore) -> i64 {
    vs.trainable_variables().iter().map(|t| t.numel() as i64).sum()
}
