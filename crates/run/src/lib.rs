/*!
`iw-run`: the run, the pipeline's central idea, without libtorch. It stands on `iw-core`,
`iw-config`, `iw-io`, `iw-data` and `iw-metrics`; both binaries stand on it: `iw` (iw-runner:
the command line, grids' executors, reproduction, data commands) and `iw-torch` (iw-train: the
stages that train and predict).

* [`experiment`]: experiment files (YAML: `extends`, overlays, `--set`) read into a
  [`RawExperiment`] and checked once into an [`Experiment`] whose loss, device and connectivity
  are typed.
* [`RunDir`]: the run folder; every file of a run is named there and nowhere else.
* [`train_log`] and [`validation`]: the rows of `train_log.csv` and `validation_log.csv` (serde
  and the csv crate; a bad line is an error naming the file and the line).
* [`RunRecord`] (`run.json`), the settings check ([`prepare_dir`], [`config_hash`]) and the
  evaluate stage ([`evaluate()`], with the records' metadata [`RecordsMeta`]).
* [`Grid`] (`grid.json`), a run's [`RunState`], its [`lock`], and [`run_one`] (`iw grid
  run-one`, SLURM's requeue).
* [`cli`]: the arguments of the commands `iw` hands to `iw-torch` (one definition, parsed by
  both binaries), and the exit code both end with.
* [`interrupt`] (Ctrl-C), [`progress`] bars, [`resources`] (memory checks), [`outputs`] (every
  output path checked against the inputs).

```
use iw_run::{Experiment, RunDir};
let exp = Experiment::default();
let dir = RunDir::of(std::path::Path::new("runs"), &exp.dataset.name, &exp.method(), 0);
assert!(dir.records().ends_with("lits/dl/experiment_0/test_metrics/prc_records.json"));
assert_eq!(exp.loss_config().name(), "dl");
# Ok::<(), Box<dyn std::error::Error>>(())
```
*/
#![deny(missing_docs)]

pub mod cli;
mod dir;
mod evaluate;
pub mod experiment;
mod grid;
pub mod interrupt;
pub mod lock;
pub mod outputs;
pub mod progress;
mod record;
pub mod resources;
mod settings;
mod state;
pub mod train_log;
pub mod validation;

pub use dir::{Prediction, RunDir};
pub use evaluate::{dataset_channels, dataset_small_below, evaluate, split_ids, write_curve, RecordsMeta};
pub use experiment::{Experiment, RawExperiment};
pub use grid::{Grid, GridRun};
pub use record::{record, RunFailure, RunRecord, StageRecord};
pub use settings::{check_settings, config_hash, prepare_dir, restart, settings, Stage, NOT_HASHED};
pub use state::{install_requeue_signal, run_one, set_failure, state_of, RunState, Stages, REQUEUE};
