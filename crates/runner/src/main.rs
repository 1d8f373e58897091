//! `iw`: the command line of the iw toolkit, without libtorch. A thin edge: it parses
//! [`iw_runner::cli::Cli`], runs the command (handing the ones that load libtorch to `iw-torch`,
//! see [`iw_runner::cli`]), prints the error chain on one line and exits 2 on failure.
use clap::Parser;
use iw_runner::cli::{exit_code, run, Cli};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    iw_run::interrupt::install_handler();
    exit_code(run(cli))
}
