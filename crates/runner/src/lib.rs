//! `iw-runner`: the library under the `iw` command line, beside `iw-train` (the `iw-torch`
//! binary); neither imports the other. The run itself (experiments, the run folder and its
//! files, run.json and the settings check, the evaluate stage, grid.json and a run's state) is
//! `iw-run`, below both. This crate links no libtorch: `iw` hands the commands that train and
//! predict to `iw-torch` ([`cli`]).
//!
//! * [`cli`]: every command's arguments, and the dispatch of those that need no tensors.
//! * [`grid`]: grids of runs (`iw grid`, `iw reproduce`): planning, local and SLURM executors,
//!   `iw grid status`.
//! * [`reproduce`]: `iw reproduce lits|luna16|mets`.
//! * [`data_cmds`], [`luna16_cmds`], [`nnunet_cmds`]: `iw synth ...` and `iw prepare ...`.
//! * [`evaluation`], [`volume_tools`]: the other commands.
#![deny(missing_docs)]

#[allow(missing_docs)] // clap's arguments: their doc comments are the --help text
pub mod cli;
pub mod data_cmds;
pub mod evaluation;
pub mod grid;
pub mod luna16_cmds;
pub mod nnunet_cmds;
pub mod python_data;
pub mod reproduce;
pub mod volume_tools;
