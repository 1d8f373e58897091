//! The settings check: a resumed stage never reuses outputs made with other settings.
//!
//! config.yaml holds the resolved experiment; run.json the SHA-256 of its [`settings`] (every
//! key but [`NOT_HASHED`]). Before a stage, [`prepare_dir`] compares the keys the stage depends
//! on ([`Stage`]) with those of the config.yaml beside the outputs and refuses, listing the keys
//! that differ (old -> new) and pointing to `--restart`.
use crate::dir::RunDir;
use crate::experiment::{Experiment, RawExperiment};
use crate::record::RunRecord;
use anyhow::{bail, Context};
use std::collections::{BTreeMap, BTreeSet};

/// Keys left out of the configuration hash and of the resume check: they change how fast a
/// run goes, not what it computes. libtorch threads and the device change only the rounding of
/// floating-point sums (a run resumed with other threads is as valid as one that was not, not
/// bit-identical); the sampler's threads and queue change nothing (batches are drawn by index).
pub const NOT_HASHED: &[&str] = &["training.threads", "training.device", "sampler.workers", "sampler.queue"];

/// The stages of a run, in order; each depends on the keys of the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// `iw train`: every key but `inference.*` and `evaluation.*`.
    Train,
    /// `iw predict`: the training keys and `inference.*`.
    Predict,
    /// `iw evaluate`: every key.
    Evaluate,
}

impl Stage {
    fn uses(self, key: &str) -> bool {
        match self {
            Stage::Train => !key.starts_with("inference.") && !key.starts_with("evaluation."),
            Stage::Predict => !key.starts_with("evaluation."),
            Stage::Evaluate => true,
        }
    }
}

fn flatten(prefix: &str, v: &serde_json::Value, out: &mut BTreeMap<String, serde_json::Value>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                flatten(&key, v, out);
            }
        }
        _ => {
            out.insert(prefix.to_string(), v.clone());
        }
    }
}

/// The resolved configuration as `dotted.key -> value`, sorted, without [`NOT_HASHED`].
pub fn settings(exp: &RawExperiment) -> BTreeMap<String, serde_json::Value> {
    let mut out = BTreeMap::new();
    flatten("", &serde_json::to_value(exp).expect("an experiment serialises"), &mut out);
    out.retain(|k, _| !NOT_HASHED.contains(&k.as_str()) && k != "extends");
    out
}

/// SHA-256 (hex) of the canonical serialisation of [`settings`]: compact JSON of the sorted
/// `key -> value` map.
pub fn config_hash(exp: &RawExperiment) -> String {
    use sha2::Digest;
    let text = serde_json::to_string(&settings(exp)).expect("settings serialise");
    sha2::Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether a run folder holds outputs of some stage.
fn has_outputs(dir: &RunDir) -> bool {
    let non_empty = |p: &std::path::Path| std::fs::read_dir(p).map(|mut d| d.next().is_some()).unwrap_or(false);
    dir.output_folders().iter().any(|p| non_empty(p))
}

/// Checks that the outputs in `dir` were made with the settings of `exp` that `stage` depends
/// on: an error lists the keys whose values differ (old -> new) and points to `--restart`.
pub fn check_settings(dir: &RunDir, exp: &Experiment, stage: Stage) -> anyhow::Result<()> {
    if !has_outputs(dir) {
        return Ok(());
    }
    let path = dir.config();
    let text = std::fs::read_to_string(&path).map_err(|e| {
        anyhow::anyhow!(
            "{}: {e}: the outputs in {} cannot be matched to their settings; rerun with --restart to start afresh",
            path.display(),
            dir.path().display()
        )
    })?;
    let old: RawExperiment = serde_norway::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{}: not a resolved experiment ({e}); rerun with --restart", path.display()))?;
    let (a, b) = (settings(&old), settings(exp.raw()));
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    let diff: Vec<String> = keys
        .into_iter()
        .filter(|k| stage.uses(k) && a.get(*k) != b.get(*k))
        .map(|k| {
            let show = |v: Option<&serde_json::Value>| v.map(|v| v.to_string()).unwrap_or_else(|| "(none)".into());
            format!("{k}: {} -> {}", show(a.get(k)), show(b.get(k)))
        })
        .collect();
    if !diff.is_empty() {
        bail!(
            "{}: its outputs were made with other settings ({}); rerun with --restart to delete them and start \
             afresh, or use another --out / --experiment-index",
            dir.path().display(),
            diff.join("; ")
        );
    }
    Ok(())
}

/// Before a stage: checks the settings against the outputs in `dir`, removes stale temporary
/// files of killed writers, writes config.yaml (when the folder has no outputs yet) and the
/// configuration hash.
pub fn prepare_dir(dir: &RunDir, exp: &Experiment, stage: Stage) -> anyhow::Result<()> {
    check_settings(dir, exp, stage)?;
    std::fs::create_dir_all(dir.checkpoints()).with_context(|| format!("creating {}", dir.path().display()))?;
    iw_core::remove_stale_temporaries(dir.path());
    for sub in dir.output_folders() {
        iw_core::remove_stale_temporaries(&sub);
    }
    let fresh = !has_outputs(dir) || !dir.config().is_file();
    if fresh {
        iw_core::write_file_atomically(&dir.config(), exp.to_yaml().as_bytes())?;
    }
    let mut r = RunRecord::read(dir)?.unwrap_or_else(RunRecord::of_this_build);
    let hash = config_hash(exp.raw());
    if fresh || r.config_sha256.is_none() {
        r.config_sha256 = Some(hash);
        r.write(dir)?;
    }
    Ok(())
}

/// `--restart`: removes the run folder `dir` (every output of the run) so the stages start
/// afresh.
pub fn restart(dir: &RunDir) -> anyhow::Result<()> {
    let dir = dir.path();
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("removing {} (--restart)", dir.display()))?;
        println!("restart: removed {}", dir.display());
    }
    Ok(())
}
