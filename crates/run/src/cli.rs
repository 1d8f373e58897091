//! The commands `iw` hands to `iw-torch` (`run`, `train`, `predict`, `segment`, `model summary`,
//! `doctor`, a grid's hidden `run-one`): their arguments, parsed by both binaries from one
//! definition (`iw` for `--help` and to check them, `iw-torch` to run them), what `segment`
//! promises to write, and the exit code both binaries end with.
use crate::dir::RunDir;
use crate::experiment::Experiment;
use crate::state::Stages;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments shared by run, train, predict and evaluate.
#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Experiment file (YAML).
    pub experiment: PathBuf,
    /// Override a value: --set training.epochs=2 (repeatable).
    #[arg(long = "set", value_name = "KEY.PATH=VALUE")]
    pub sets: Vec<String>,
    /// Overlay files merged over the experiment before --set (e.g. experiments/scales/cpu.yaml).
    #[arg(long = "overlay")]
    pub overlays: Vec<PathBuf>,
    /// Root of the run folders.
    #[arg(long, default_value = "runs")]
    pub out: PathBuf,
    /// Experiment index: the run folder is experiment_<K>.
    #[arg(long, default_value_t = 0)]
    pub experiment_index: usize,
    /// Delete this run folder's outputs and start afresh (needed when the settings differ from
    /// those that made the outputs on disk: a resumed stage refuses them).
    #[arg(long)]
    pub restart: bool,
}

/// Loads the experiment of `a` (overlays, --set), removes its run folder on --restart, and runs
/// `stage` in that folder.
pub fn with_experiment(a: &RunArgs, stage: Stages) -> anyhow::Result<()> {
    let exp = Experiment::load_with(&a.experiment, &a.overlays, &a.sets)?;
    let dir = RunDir::of(&a.out, &exp.dataset.name, &exp.method(), a.experiment_index);
    if a.restart {
        crate::settings::restart(&dir)?;
    }
    stage(&exp, &dir)
}

/// `iw model ...`.
#[derive(clap::Subcommand, Debug)]
pub enum ModelCommand {
    /// Layers, output shapes, parameters and activation memory (like torchinfo).
    Summary {
        /// Take the model and patch from an experiment file.
        experiment: Option<PathBuf>,
        /// Channel multiplier.
        #[arg(long)]
        width: Option<f64>,
        /// Encoder levels.
        #[arg(long)]
        depth: Option<usize>,
        /// Patch D,H,W.
        #[arg(long, value_parser = parse_xyz)]
        patch: Option<[usize; 3]>,
    },
}

/// `iw grid run-one GRID --index I`: one run of a grid in this process (what the executors
/// start).
#[derive(clap::Args, Debug)]
pub struct RunOneArgs {
    /// grid.json.
    pub grid: PathBuf,
    /// The run's index in it.
    #[arg(long)]
    pub index: usize,
    /// Executor overrides (threads, device), after the run's own.
    #[arg(long = "set")]
    pub sets: Vec<String>,
}

/// `iw segment MODEL SCAN... --out DIR`.
#[derive(clap::Args, Debug, Clone)]
pub struct SegmentArgs {
    /// A run folder (its config.yaml and checkpoints/final.safetensors) or a checkpoint file
    /// (.safetensors; its config.yaml is looked for beside it and in the folder above, or given
    /// with --config).
    pub model: PathBuf,
    /// Scans: volume files (.nii, .nii.gz, .mhd, .mha, .nrrd, .nhdr, .dcm), DICOM series
    /// folders, or folders of volume files (each file one scan).
    #[arg(required = true)]
    pub scans: Vec<PathBuf>,
    /// Output folder (created).
    #[arg(long, short)]
    pub out: PathBuf,
    /// The run's configuration, when MODEL is a checkpoint without one beside it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Region of interest: a mask in the scan's grid (non-zero inside; e.g. the liver for a LiTS
    /// run), or a folder holding one per scan named like the scan. The scan is cropped to the
    /// mask's bounding box + 5 voxels (the LiTS preparation's rule) and predicted there;
    /// outside it the probability is 0. For a LUNA16 run: the seg-lungs-LUNA16 label map, made
    /// into the lung mask as `iw prepare luna16` does (CT at its minimum outside the lungs).
    /// Default: the whole scan.
    #[arg(long)]
    pub roi: Option<PathBuf>,
    /// Intensity scaling for runs without an intensity window (dataset.window: null, e.g. MR
    /// prepared by `iw prepare nnunet`): none, zscore, percentile or percentile:LO,HI, what the
    /// preparation applied. Runs with a window (CT) clip to it and min-max scale, as in
    /// training; this option is then refused.
    #[arg(long)]
    pub scaling: Option<String>,
    /// Device (cpu, cuda, cuda:N); default: the run's training.device.
    #[arg(long)]
    pub device: Option<String>,
    /// Probability above which a voxel is lesion (the threshold of `iw predict` and of the
    /// evaluation).
    #[arg(long, default_value_t = 0.5)]
    pub threshold: f64,
    /// Connectivity of the lesion components.
    #[arg(long, default_value_t = 26, value_parser = parse_connectivity)]
    pub connectivity: u32,
    /// Also write `<name>_overlay.png`: the axial slice through the middle of the top lesion
    /// (the scan's middle slice when none was found), grey from its 1st to 99th percentile, with
    /// the outlines of the mask in red. A look, not a measurement.
    #[arg(long)]
    pub overlay_png: bool,
}

/// The header of `iw segment`'s `<scan>_lesions.csv`.
pub const LESIONS_HEADER: &str =
    "id,voxels,volume_mm3,equivalent_diameter_mm,centroid_x_mm,centroid_y_mm,centroid_z_mm,\
bbox_x_min,bbox_y_min,bbox_z_min,bbox_x_max,bbox_y_max,bbox_z_max,max_probability,mean_probability";

/// `X,Y,Z` sizes.
pub fn parse_xyz(s: &str) -> Result<[usize; 3], String> {
    let v: Vec<usize> = s
        .split(',')
        .map(|p| p.trim().parse::<usize>())
        .collect::<Result<_, _>>()
        .map_err(|_| format!("expected X,Y,Z, got {s:?}"))?;
    <[usize; 3]>::try_from(v).map_err(|_| format!("expected three sizes X,Y,Z, got {s:?}"))
}

/// 6, 18 or 26.
pub fn parse_connectivity(s: &str) -> Result<u32, String> {
    match s.parse::<u32>() {
        Ok(n @ (6 | 18 | 26)) => Ok(n),
        _ => Err(format!("connectivity must be 6, 18 or 26, not {s:?}")),
    }
}

/// Exit code: some runs of a grid failed, or did not run and nothing is running them (rerun the
/// command).
pub const EXIT_FAILED: u8 = 3;
/// Exit code: no run failed, but some are still running (or queued) elsewhere: another process,
/// a SLURM array (`--wait` waits for them).
pub const EXIT_ELSEWHERE: u8 = 4;

/// The error of a command whose grid is not done: its message names the runs, its exit code is
/// [`EXIT_FAILED`] or [`EXIT_ELSEWHERE`].
#[derive(Debug)]
pub struct Unfinished {
    /// The exit code.
    pub code: u8,
    /// One line naming the runs and what to do.
    pub message: String,
}

impl std::fmt::Display for Unfinished {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Unfinished {}

/// The exit code an error asks for: [`Unfinished`]'s own, `None` for any other.
pub fn unfinished_code(e: &anyhow::Error) -> Option<u8> {
    e.chain().find_map(|c| c.downcast_ref::<Unfinished>()).map(|u| u.code)
}

/// The exit of both binaries: 0; 130 after Ctrl-C (the message says how to resume); 3 or 4
/// for a grid that is not done ([`Unfinished`]: runs failed or not run, or still running
/// elsewhere); else the error chain on one line and 2.
pub fn exit_code(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if crate::interrupt::is_interrupted(&e) => {
            eprintln!("iw: {e:#}");
            ExitCode::from(130)
        }
        Err(e) if unfinished_code(&e).is_some() => {
            eprintln!("iw: {e:#}");
            ExitCode::from(unfinished_code(&e).expect("checked"))
        }
        Err(e) => {
            eprintln!("iw: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
