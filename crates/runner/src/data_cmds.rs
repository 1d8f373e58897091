//! `iw synth lits` and `iw prepare lits`.
use crate::manifest::{Manifest, LITS};
use crate::progress::bar;
use anyhow::{bail, Context};
use iw_data::lits::{find_cases, prepare_case, Skip};
use iw_data::prepared::{case_done, DatasetInfo};
use iw_data::synth::{lits_phantom, PhantomOptions, TumourStats};
use iw_data::write_volume;
use serde_json::json;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// LiTS test-set tumour statistics (data-manifests/lits-tumour-stats.json).
pub const LITS_TUMOUR_STATS: &str = include_str!("../../../data-manifests/lits-tumour-stats.json");

fn write_text_atomically(path: &Path, text: &str) -> anyhow::Result<()> {
    Ok(iw_data::io::write_file_atomically(path, text.as_bytes())?)
}

/// A synthetic.json: what marks a dataset synthetic and how to make it again, then `fields`.
pub fn synthetic_meta(generator: &str, seed: u64, cases: usize, fields: serde_json::Value) -> serde_json::Value {
    let mut meta = json!({
        "synthetic": true,
        "generator": generator,
        "iw_version": env!("CARGO_PKG_VERSION"),
        "git_revision": env!("IW_GIT_REVISION"),
        "seed": seed,
        "cases": cases,
    });
    if let (Some(m), serde_json::Value::Object(f)) = (meta.as_object_mut(), fields) {
        m.extend(f);
    }
    meta
}

/// The seed of case `i` of a synthetic dataset of seed `seed`.
pub fn case_seed(seed: u64, i: usize) -> u64 {
    seed.wrapping_mul(1_000_003).wrapping_add(i as u64)
}

/// Runs `f(0..cases)` on `threads` threads with a progress bar; stops at the first error.
pub fn for_each_case(
    cases: usize,
    threads: usize,
    label: &str,
    f: impl Fn(usize) -> anyhow::Result<()> + Sync,
) -> anyhow::Result<()> {
    let pb = bar(cases as u64, label);
    let next = AtomicUsize::new(0);
    let failure: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..threads.max(1) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= cases || failure.lock().expect("lock").is_some() {
                    break;
                }
                if let Err(e) = f(i) {
                    *failure.lock().expect("lock") = Some(e);
                    break;
                }
                pb.inc(1);
            });
        }
    });
    pb.finish_and_clear();
    match failure.into_inner().expect("lock") {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// `iw synth lits`.
pub fn synth_lits(out: &Path, cases: usize, seed: u64, shape_xyz: [usize; 3], threads: usize) -> anyhow::Result<()> {
    if cases == 0 {
        bail!("--cases must be at least 1");
    }
    if shape_xyz.iter().any(|&s| s < 16) {
        bail!("--shape {shape_xyz:?}: every size must be at least 16 voxels");
    }
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let stats: TumourStats = serde_json::from_str(LITS_TUMOUR_STATS).expect("the shipped statistics parse");
    let opts = PhantomOptions { shape_xyz, ..PhantomOptions::default() };
    let tumours = Mutex::new(vec![0usize; cases]);
    for_each_case(cases, threads, "synth lits", |i| {
        let (vp, sp) = (out.join(format!("volume-{i}.nii")), out.join(format!("segmentation-{i}.nii")));
        let ph = lits_phantom(case_seed(seed, i), &stats, &opts);
        tumours.lock().expect("lock")[i] = ph.tumours;
        // The segmentation last: a case with both files is complete.
        if !(vp.exists() && sp.exists()) {
            write_volume(&vp, &ph.image)?;
            write_volume(&sp, &ph.segmentation)?;
        }
        Ok(())
    })?;
    let tumours = tumours.into_inner().expect("lock");
    let scale = opts.diameter_scale(&stats);
    let meta = synthetic_meta(
        "iw synth lits",
        seed,
        cases,
        json!({
            "shape_xyz": shape_xyz,
            "spacing_xyz_mm": opts.spacing_xyz_mm(),
            "tumours_per_case": tumours,
            "diameter_scale": scale,
            "small_below_equivalent": 12.0 * scale,
            "note": "LiTS-format phantoms; tumour counts and diameters drawn from the LiTS test set. A LiTS diameter of d voxels spans d * diameter_scale phantom voxels, so the paper's small-lesion threshold (12 voxels) corresponds to small_below_equivalent here.",
        }),
    );
    write_text_atomically(&out.join("synthetic.json"), &serde_json::to_string_pretty(&meta)?)?;
    let manifest = Manifest::proportional("lits", cases);
    let yaml = format!(
        "# Synthetic LiTS-format dataset written by `iw synth lits` (seed {seed}); split in the paper's proportions.\n{}",
        serde_norway::to_string(&manifest)?
    );
    write_text_atomically(&out.join("manifest.yaml"), &yaml)?;
    let total: usize = tumours.iter().sum();
    println!(
        "wrote {cases} synthetic LiTS cases ({total} tumours) to {} (voxels {:.2} x {:.2} x {:.2} mm)",
        out.display(),
        opts.spacing_xyz_mm()[0],
        opts.spacing_xyz_mm()[1],
        opts.spacing_xyz_mm()[2]
    );
    Ok(())
}

/// `iw prepare lits`.
pub fn prepare_lits(raw: &Path, out: &Path, manifest_path: Option<&Path>) -> anyhow::Result<()> {
    let (manifest, manifest_text) = match manifest_path {
        Some(p) => (Manifest::read(p)?, std::fs::read_to_string(p)?),
        None if raw.join("manifest.yaml").is_file() => {
            let p = raw.join("manifest.yaml");
            (Manifest::read(&p)?, std::fs::read_to_string(&p)?)
        }
        None => (Manifest::parse(LITS, "data-manifests/lits.yaml")?, LITS.to_string()),
    };
    let synthetic = raw.join("synthetic.json").is_file();
    let (pairs, half) = find_cases(raw)?;
    let ids = Manifest::ids(&manifest.cases);
    let missing: Vec<String> =
        ids.iter().filter(|id| id.parse::<u32>().map_or(true, |n| !pairs.contains_key(&n))).cloned().collect();
    if !missing.is_empty() {
        eprintln!(
            "warning: {} case(s) of the manifest are missing from {}: {}",
            missing.len(),
            raw.display(),
            missing.join(", ")
        );
    }
    if !half.is_empty() {
        eprintln!(
            "warning: volume or segmentation missing for case(s) {}",
            half.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", ")
        );
    }
    let todo: Vec<String> = ids.iter().filter(|id| !missing.contains(id)).cloned().collect();
    let job =
        PrepareJob { name: "lits", raw, out, dataset: &manifest.dataset, manifest_text: &manifest_text, synthetic };
    prepare_all(&job, &todo, &missing, |cases_dir, id| {
        let raw_case = &pairs[&id.parse::<u32>().expect("present ids are numbers")];
        Ok(prepare_case(cases_dir, id, raw_case)?)
    })
}

/// What a preparation writes besides its cases.
pub struct PrepareJob<'a> {
    /// Progress label (`lits`, `luna16`, ...).
    pub name: &'a str,
    /// The raw folder.
    pub raw: &'a Path,
    /// The output folder.
    pub out: &'a Path,
    /// Dataset name for dataset.json.
    pub dataset: &'a str,
    /// The manifest.yaml to write next to the cases.
    pub manifest_text: &'a str,
    /// Whether the raw data is synthetic (RAW/synthetic.json is copied).
    pub synthetic: bool,
}

/// Prepares the cases `todo` one by one with a progress bar, keeping finished ones (resume),
/// reporting skips by id; then writes cases.csv, manifest.yaml, dataset.json (atomically).
pub fn prepare_all(
    job: &PrepareJob,
    todo: &[String],
    missing: &[String],
    prepare_one: impl Fn(&Path, &str) -> anyhow::Result<Result<iw_data::prepared::CaseMeta, Skip>>,
) -> anyhow::Result<()> {
    let out = job.out;
    let cases_dir = out.join("cases");
    std::fs::create_dir_all(&cases_dir).with_context(|| format!("creating {}", cases_dir.display()))?;
    let pb = bar(todo.len() as u64, &format!("prepare {}", job.name));
    let mut prepared = Vec::new();
    let mut skipped: Vec<(String, String)> = Vec::new();
    let mut failed = Vec::new();
    for id in todo {
        pb.set_message(format!("case {id}"));
        if case_done(&cases_dir, id) {
            prepared.push(id.clone());
            pb.inc(1);
            continue;
        }
        match prepare_one(&cases_dir, id) {
            Ok(Ok(_)) => prepared.push(id.clone()),
            Ok(Err(skip)) => {
                pb.suspend(|| eprintln!("case {id} skipped: {}", skip.0));
                skipped.push((id.clone(), skip.0));
            }
            Err(e) => {
                pb.suspend(|| eprintln!("case {id} failed: {e:#}"));
                failed.push(id.clone());
                skipped.push((id.clone(), format!("{e:#}")));
            }
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    // The case table.
    let mut csv =
        String::from("id,shape_x,shape_y,shape_z,spacing_x_mm,spacing_y_mm,spacing_z_mm,tumours,tumour_voxels\n");
    for id in &prepared {
        let meta = iw_data::prepared::PreparedCase::open(&cases_dir, id)?.meta;
        let [z, y, x] = meta.shape_zyx;
        let s = meta.spacing_xyz_mm;
        let vox: Vec<String> = meta.components.iter().map(|c| c.voxels.to_string()).collect();
        csv += &format!("{id},{x},{y},{z},{},{},{},{},{}\n", s[0], s[1], s[2], meta.lesions(), vox.join(";"));
    }
    write_text_atomically(&out.join("cases.csv"), &csv)?;
    write_text_atomically(&out.join("manifest.yaml"), job.manifest_text)?;
    if job.synthetic {
        std::fs::copy(job.raw.join("synthetic.json"), out.join("synthetic.json")).context("copying synthetic.json")?;
    }
    let info = DatasetInfo {
        format: "iw-prepared-1".into(),
        dataset: job.dataset.to_string(),
        synthetic: job.synthetic,
        source: job.raw.display().to_string(),
        cases: prepared.clone(),
        skipped: skipped.clone(),
        missing: missing.to_vec(),
        iw_version: env!("CARGO_PKG_VERSION").into(),
    };
    write_text_atomically(&out.join("dataset.json"), &serde_json::to_string_pretty(&info)?)?;
    println!(
        "prepared {} case(s) into {}{}; {} skipped, {} missing from the raw folder",
        prepared.len(),
        out.display(),
        if job.synthetic { " (synthetic data)" } else { "" },
        skipped.len(),
        missing.len()
    );
    if !failed.is_empty() {
        bail!("{} case(s) could not be read: {} (see the messages above)", failed.len(), failed.join(", "));
    }
    Ok(())
}
