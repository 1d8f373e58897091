//! The settings of sliding-window inference (METHOD.md, "Training": inference). The tiling
//! itself, and what each grid does in detail, is `iw_models::sliding_window`.

/// How the volume is covered by tiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Grid {
    /// deep_pipe's `patches_grid`: centred zero padding to `p + k s`, a regular grid,
    /// probabilities and logits averaged separately (the authors' code).
    #[default]
    Paper,
    /// Padding at the end to a multiple of `divisor` (each channel's minimum), the last tile
    /// flush with the border, probabilities = sigmoid(averaged logits).
    Flush,
}

/// Inference settings.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InferenceConfig {
    /// Patch size `[d, h, w]` (paper: 160).
    pub patch_dhw: [i64; 3],
    /// Stride (paper: 144).
    pub stride_dhw: [i64; 3],
    /// Paper grid: each tile is padded to a multiple of this; flush grid: the volume (paper: 8).
    pub divisor: i64,
    /// The tiling (paper: [`Grid::Paper`]).
    pub grid: Grid,
    /// nnU-Net's Gaussian weighting of overlaps (off in the paper).
    pub gaussian: bool,
    /// Mirroring test-time augmentation over the 3 axes (off in the paper).
    pub mirror: bool,
}

impl Default for InferenceConfig {
    fn default() -> Self {
        InferenceConfig {
            patch_dhw: [160; 3],
            stride_dhw: [144; 3],
            divisor: 8,
            grid: Grid::Paper,
            gaussian: false,
            mirror: false,
        }
    }
}
