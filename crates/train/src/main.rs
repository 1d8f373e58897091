//! `iw-torch`: the commands of `iw` that load libtorch (`run`, `train`, `predict`, `segment`,
//! `model summary`, `doctor`, a grid's hidden `run-one`). `iw` parses every command and hands
//! these here by `exec` (same arguments, process id, signals and exit code); this binary parses
//! only them (their arguments are `iw_run::cli`, one definition for both binaries).
use clap::{Parser, Subcommand};
use iw_run::cli::{exit_code, with_experiment, ModelCommand, RunArgs, RunOneArgs, SegmentArgs};
use iw_train::{doctor, model_cmd, segment_cmd, stages};
use std::process::ExitCode;

/// The libtorch half of `iw` (started by `iw`; `iw --help` lists every command).
#[derive(Parser, Debug)]
#[command(name = "iw", version = concat!(env!("CARGO_PKG_VERSION"), " (git ", env!("IW_GIT_REVISION"), ", libtorch ", env!("IW_TORCH_VERSION"), ")"))]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// What `iw` hands over (the same spellings as `iw`'s).
#[derive(Subcommand, Debug)]
enum Command {
    /// Print the libtorch version, CPU threads, CUDA availability and GPU names.
    Doctor,
    /// Train, predict the test cases and evaluate them.
    Run(RunArgs),
    /// Train only (resumes from the last checkpoint).
    Train(RunArgs),
    /// Predict the test cases.
    Predict(RunArgs),
    /// Segment your own scans with a trained run.
    Segment(SegmentArgs),
    /// Model tools.
    #[command(subcommand)]
    Model(ModelCommand),
    /// A grid's run (`iw grid run-one`).
    #[command(subcommand)]
    Grid(GridCommand),
}

#[derive(Subcommand, Debug)]
enum GridCommand {
    /// One run of a grid in this process (what the executors start).
    RunOne(RunOneArgs),
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Doctor => doctor::run(),
        Command::Run(a) => with_experiment(&a, stages::run_all),
        Command::Train(a) => with_experiment(&a, stages::train),
        Command::Predict(a) => with_experiment(&a, stages::predict),
        Command::Segment(a) => segment_cmd::run(&a),
        Command::Model(ModelCommand::Summary { experiment, width, depth, patch }) => {
            model_cmd::summary(experiment.as_deref(), width, depth, patch)
        }
        Command::Grid(GridCommand::RunOne(RunOneArgs { grid, index, sets })) => {
            iw_run::install_requeue_signal();
            iw_run::run_one(&grid, index, &sets, stages::run_all)
        }
    }
}

fn main() -> ExitCode {
    // Every command here runs libtorch: its per-step buffers stay mapped (BENCHMARKS.md,
    // "Training step on the CPU"). Set before any thread starts.
    iw_run::resources::keep_freed_memory();
    let cli = Cli::parse();
    iw_run::interrupt::install_handler();
    exit_code(run(cli))
}
