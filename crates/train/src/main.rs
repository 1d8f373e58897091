//! `iw-torch`: the commands of `iw` that load libtorch (`run`, `train`, `predict`, `segment`, `model`,
//! `doctor`, a grid's `run-one`). `iw` hands them here by `exec`; started directly it is a
//! complete `iw` (it parses the same command line and runs the other commands as `iw` does).
use clap::Parser;
use iw_runner::cli::{exit_code, with_experiment, Cli, Command, GridArgs, GridCommand, ModelCommand};
use iw_train::{doctor, model_cmd, segment_cmd, stages};
use std::process::ExitCode;

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
        Command::Grid(GridArgs { command: Some(GridCommand::RunOne { grid, index, sets }), .. }) => {
            iw_run::install_requeue_signal();
            iw_run::run_one(&grid, index, &sets, stages::run_all)
        }
        command => iw_runner::cli::run(Cli { command }),
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
