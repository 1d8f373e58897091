//! `iw-runner`: the library under the `iw` command line. It is the only crate that knows about
//! experiment files (YAML), run folders, progress bars and reproduction tables; the maths and
//! the data live below it (`iw-core`, `iw-config`, `iw-io`, `iw-data`, `iw-synth`,
//! `iw-metrics`). It links no libtorch: the stages that train and predict are `iw-train`, whose
//! `iw-torch` binary `iw` hands those commands to ([`cli`]).
//!
//! * [`cli`]: every command's arguments, and the dispatch of those that need no tensors.
//! * [`experiment`]: experiment files: `extends`, overlays, `--set`, validation.
//! * [`run`]: the run folder (layout, run.json, the settings check) and the evaluate stage.
//! * [`validation`]: validation during training: `validation_log.csv` and the whole-volume scores.
//! * [`grid`]: grids of runs (`iw grid`, `iw reproduce`): states, locks, local and SLURM executors.
//! * [`reproduce`]: `iw reproduce lits|luna16|mets`.
//! * [`data_cmds`], [`luna16_cmds`], [`nnunet_cmds`]: `iw synth ...` and `iw prepare ...`.
//! * [`interrupt`]: Ctrl-C (stop at a safe point, exit 130, resume); [`resources`]: memory
//!   estimates checked against what the machine has.
//! * [`outputs`]: every output path of the CLI resolved and checked against the inputs.
//! * [`segment`]: `iw segment` without the network (scans, preprocessing, outputs, lesion
//!   tables); iw-torch runs it with the network.
//! * [`evaluation`], [`volume_tools`]: the other commands.
#![deny(missing_docs)]

#[allow(missing_docs)] // clap's arguments: their doc comments are the --help text
pub mod cli;
pub mod data_cmds;
pub mod evaluation;
pub mod experiment;
pub mod grid;
pub mod interrupt;
pub mod luna16_cmds;
pub mod nnunet_cmds;
pub mod outputs;
pub mod progress;
pub mod python_data;
pub mod reproduce;
pub mod resources;
pub mod run;
pub mod segment;
pub mod validation;
pub mod volume_tools;
