//! An experiment with a parent (`extends`), an overlay and `--set` values, all from the input,
//! through `Experiment::load_from` (the code under `Experiment::load_with`: YAML parsing, unknown
//! keys, merging, `--set`, the validation of every key). The input is split at 0xFF bytes into
//! `exp.yaml`, `overlay.yaml`, `base.yaml` (what `extends: base.yaml` reads) and one `--set`
//! value per further part. An accepted experiment must also survive what a run does with it:
//! its config.yaml read back gives the same settings and hash (the resume check compares them).
#![no_main]
use iw_run::{Experiment, RawExperiment};
use libfuzzer_sys::fuzz_target;
use std::path::{Path, PathBuf};

fuzz_target!(|data: &[u8]| {
    let parts: Vec<String> = data.split(|&b| b == 0xFF).map(|p| String::from_utf8_lossy(p).into_owned()).collect();
    let file = |i: usize| parts.get(i).cloned();
    let read = |p: &Path| -> std::io::Result<String> {
        let i = match p.to_str() {
            Some("exp.yaml") => 0,
            Some("overlay.yaml") => 1,
            Some("base.yaml") | Some("./base.yaml") => 2,
            _ => usize::MAX,
        };
        file(i).ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))
    };
    let overlays = if parts.len() > 1 { vec![PathBuf::from("overlay.yaml")] } else { vec![] };
    let sets: Vec<String> = parts.iter().skip(3).take(8).cloned().collect();
    if let Ok(e) = Experiment::load_from(Path::new("exp.yaml"), &overlays, &sets, &read) {
        let _ = e.method();
        let _ = e.loss_config();
        let yaml = e.to_yaml();
        let back: RawExperiment = serde_norway::from_str(&yaml).expect("an accepted experiment's config.yaml reads back");
        assert_eq!(
            iw_run::settings(&back),
            iw_run::settings(&e),
            "config.yaml does not read back to the same settings:\n{yaml}"
        );
        assert_eq!(iw_run::config_hash(&back), iw_run::config_hash(&e));
    }
});
