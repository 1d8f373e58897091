//! `run.json`: the run's record. Versions of the build that wrote it, the SHA-256 of the
//! settings its outputs were made with, per stage the device and wall time, and the error of a
//! grid's last failed attempt ([`RunFailure`], beside the stages, cleared when the run finishes).
use crate::dir::RunDir;
use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// `run.json` of a run folder: versions and, per stage, the device and wall time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// iw version of the last stage written.
    pub iw_version: String,
    /// Git revision of that build.
    pub git_revision: String,
    /// libtorch it linked.
    pub libtorch: String,
    /// SHA-256 of the resolved configuration that made this folder's outputs
    /// ([`crate::config_hash`]; absent in folders of older versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_sha256: Option<String>,
    /// The stages that ran (`train`, `predict`, `evaluate`).
    pub stages: std::collections::BTreeMap<String, StageRecord>,
    /// The error of the last attempt, written by the grid (`iw grid`, `iw reproduce`) and cleared
    /// when the run finishes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<RunFailure>,
}

/// One stage of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageRecord {
    /// The device it ran on.
    pub device: String,
    /// Wall time, seconds.
    pub wall_s: f64,
    /// When it finished (Unix seconds).
    pub finished_unix: u64,
    /// What the stage reports (steps, cases, mean Dice, ...).
    pub details: serde_json::Value,
}

/// The error a failed attempt leaves in run.json (`"error"`), cleared when the run finishes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunFailure {
    /// The error chain, one line.
    pub message: String,
    /// Where (host) and when (Unix seconds) it failed.
    pub host: String,
    /// Unix seconds.
    pub unix: u64,
    /// The attempt's log (stdout and stderr).
    pub log: Option<PathBuf>,
}

impl RunFailure {
    /// A failure now, on this host.
    pub fn now(message: String, log: Option<PathBuf>) -> RunFailure {
        RunFailure { message, host: crate::lock::hostname(), unix: unix_now(), log }
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

impl RunRecord {
    /// The run's run.json when there is one; a corrupt one is an error naming it.
    pub fn read(dir: &RunDir) -> anyhow::Result<Option<Self>> {
        let path = dir.record();
        if !path.is_file() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        let r = serde_json::from_str(&text).with_context(|| format!("{}: not a run record", path.display()))?;
        Ok(Some(r))
    }

    /// `dir/run.json` when there is one ([`RunRecord::read`]).
    pub fn read_in(dir: &std::path::Path) -> anyhow::Result<Option<Self>> {
        Self::read(&RunDir::new(dir))
    }

    /// A record with no stage yet.
    pub fn empty() -> Self {
        RunRecord {
            iw_version: String::new(),
            git_revision: String::new(),
            libtorch: String::new(),
            config_sha256: None,
            stages: Default::default(),
            error: None,
        }
    }

    /// A record with no stage yet, of this build.
    pub fn of_this_build() -> Self {
        let mut r = RunRecord::empty();
        r.stamp();
        r
    }

    /// Sets the versions to this build's.
    fn stamp(&mut self) {
        self.iw_version = env!("CARGO_PKG_VERSION").into();
        self.git_revision = env!("IW_GIT_REVISION").into();
        self.libtorch = env!("IW_TORCH_VERSION").into();
    }

    /// Writes it to the run's run.json (atomically).
    pub fn write(&self, dir: &RunDir) -> anyhow::Result<()> {
        iw_core::write_file_atomically(&dir.record(), serde_json::to_string_pretty(self)?.as_bytes())?;
        Ok(())
    }

    /// Whether the run is done: the `evaluate` stage is recorded and the records exist.
    pub fn is_done(&self, dir: &RunDir) -> bool {
        self.stages.contains_key("evaluate") && dir.records().is_file()
    }
}

/// Records a stage in run.json (versions, git revision, device as libtorch prints it: `Cpu`,
/// `Cuda(0)`, wall time).
pub fn record(dir: &RunDir, stage: &str, device: &str, seconds: f64, details: serde_json::Value) -> anyhow::Result<()> {
    let mut r = RunRecord::read(dir)?.unwrap_or_else(RunRecord::empty);
    r.stamp();
    let finished_unix = unix_now();
    r.stages.insert(stage.into(), StageRecord { device: device.to_string(), wall_s: seconds, finished_unix, details });
    r.write(dir)
}
