//! `iw synth lits` and `iw prepare lits`.
use anyhow::{bail, Context};
use iw_data::lits::{find_cases, prepare_case, Skip};
use iw_data::manifest::{Manifest, LITS};
use iw_data::prepared::{case_done, write_dataset_files, DatasetFiles, SyntheticInfo};
use iw_io::write_volume;
use iw_run::progress::bar;
use iw_synth::lits::{lits_phantom, PhantomOptions, TumourStats};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// LiTS test-set tumour statistics (data-manifests/lits-tumour-stats.json).
pub const LITS_TUMOUR_STATS: &str = include_str!("../../../data-manifests/lits-tumour-stats.json");

fn write_text_atomically(path: &Path, text: &str) -> anyhow::Result<()> {
    Ok(iw_core::write_file_atomically(path, text.as_bytes())?)
}

/// A synthetic.json of this build: generator, seed, cases, then the generator's `fields`
/// (`small_below_equivalent` and `note` among them go to their typed fields).
pub fn synthetic_meta(generator: &str, seed: u64, cases: usize, fields: serde_json::Value) -> SyntheticInfo {
    let mut details = match fields {
        serde_json::Value::Object(m) => m,
        _ => serde_json::Map::new(),
    };
    let small_below_equivalent = details.remove("small_below_equivalent").and_then(|v| v.as_f64());
    let note = details.remove("note").and_then(|v| v.as_str().map(str::to_string));
    SyntheticInfo {
        synthetic: true,
        generator: generator.to_string(),
        iw_version: env!("CARGO_PKG_VERSION").to_string(),
        git_revision: env!("IW_GIT_REVISION").to_string(),
        seed,
        cases,
        small_below_equivalent,
        note,
        details,
    }
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
    let done = AtomicUsize::new(0);
    let failure: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..threads.max(1) {
            s.spawn(|| loop {
                if iw_run::interrupt::requested() || failure.lock().expect("lock").is_some() {
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= cases {
                    break;
                }
                if let Err(e) = f(i) {
                    *failure.lock().expect("lock") = Some(e);
                    break;
                }
                done.fetch_add(1, Ordering::Relaxed);
                pb.inc(1);
            });
        }
    });
    pb.finish_and_clear();
    if let Some(e) = failure.into_inner().expect("lock") {
        return Err(e);
    }
    let done = done.into_inner();
    if done < cases {
        // Only Ctrl-C stops the workers early without an error.
        return Err(iw_run::interrupt::Interrupted(format!(
            "{label}: {done} of {cases} cases written (each complete); rerun the same command to resume"
        ))
        .into());
    }
    Ok(())
}

/// The folder an `iw synth` command writes into (`out`, resolved): created when missing, reused
/// when empty or written by an earlier `iw synth` (its marker `.iw-synth`, or `synthetic.json`
/// of older versions), refused otherwise, so that a mistyped `--out` never mixes phantoms (and
/// a `synthetic.json` that marks the folder synthetic) into a real dataset.
pub fn synth_folder(out: &Path, command: &str) -> anyhow::Result<PathBuf> {
    let dir = iw_run::outputs::output_path(out, &[], None)?;
    if dir.exists() && !dir.is_dir() {
        bail!("{}: not a folder (--out names the dataset folder to write)", out.display());
    }
    let marker = dir.join(".iw-synth");
    if dir.is_dir() && !marker.is_file() && !dir.join("synthetic.json").is_file() {
        let mut entries = std::fs::read_dir(&dir).with_context(|| format!("reading {}", out.display()))?;
        if entries.next().is_some() {
            bail!(
                "{}: not empty and not written by `iw synth` (no .iw-synth or synthetic.json); choose a new or empty folder",
                out.display()
            );
        }
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", out.display()))?;
    iw_core::write_file_atomically(&marker, format!("written by `{command}`\n").as_bytes())
        .with_context(|| format!("writing {}", marker.display()))?;
    Ok(dir)
}

/// Refuses a phantom shape NIfTI-1 cannot store (16-bit sizes) or that the machine cannot hold:
/// `bytes_per_voxel` at the generator's peak, for `threads` cases at once.
pub fn check_synth_shape(shape_xyz: [usize; 3], threads: usize, bytes_per_voxel: f64) -> anyhow::Result<()> {
    let [x, y, z] = shape_xyz;
    if let Some(s) = shape_xyz.iter().find(|&&s| s > i16::MAX as usize) {
        bail!("--shape {x},{y},{z}: {s} voxels on one axis; NIfTI-1 stores at most 32767");
    }
    let voxels: f64 = shape_xyz.iter().map(|&s| s as f64).product();
    iw_run::resources::check_fits(
        &format!("--shape {x},{y},{z} with {} case(s) at once", threads.max(1)),
        voxels * bytes_per_voxel * threads.max(1) as f64,
        "use a smaller --shape or fewer --threads",
    )
}

/// `iw synth lits`.
/// `test_cases`: the size of the test split (default: the paper's proportion, 28 of 131).
pub fn synth_lits(
    out: &Path,
    cases: usize,
    seed: u64,
    opts: &PhantomOptions,
    threads: usize,
    test_cases: Option<usize>,
) -> anyhow::Result<()> {
    let shape_xyz = opts.shape_xyz;
    if cases == 0 {
        bail!("--cases must be at least 1");
    }
    if shape_xyz.iter().any(|&s| s < 16) {
        bail!("--shape {shape_xyz:?}: every size must be at least 16 voxels");
    }
    for (name, [lo, hi]) in [("--tumour-contrast", opts.tumour_contrast_hu), ("--noise", opts.noise_sd_hu)] {
        if !(lo.is_finite() && hi.is_finite() && 0.0 <= lo && lo < hi) {
            bail!("{name} {lo},{hi}: expected 0 <= LO < HI");
        }
    }
    // The phantom's peak: HU float32, segmentation and its lesion mask, labels, the int16 image.
    check_synth_shape(shape_xyz, threads.min(cases), 16.0)?;
    synth_folder(out, "iw synth lits")?;
    let stats: TumourStats = serde_json::from_str(LITS_TUMOUR_STATS).expect("the shipped statistics parse");
    let opts = *opts;
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
            "tumour_contrast_hu": opts.tumour_contrast_hu,
            "noise_sd_hu": opts.noise_sd_hu,
            "tumours_per_case": tumours,
            "diameter_scale": scale,
            "small_below_equivalent": 12.0 * scale,
            "note": "LiTS-format phantoms; tumour counts and diameters drawn from the LiTS test set. A LiTS diameter of d voxels spans d * diameter_scale phantom voxels, so the paper's small-lesion threshold (12 voxels) corresponds to small_below_equivalent here.",
        }),
    );
    meta.write(&out.join("synthetic.json"))?;
    let manifest = Manifest::proportional_with_test("lits", cases, test_cases);
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
    iw_run::outputs::output_path(out, &[raw], None)?;
    let (manifest, manifest_text) = match manifest_path {
        Some(p) => (Manifest::read(p)?, std::fs::read_to_string(p)?),
        None if raw.join("manifest.yaml").is_file() => {
            let p = raw.join("manifest.yaml");
            (Manifest::read(&p)?, std::fs::read_to_string(&p)?)
        }
        None => (Manifest::parse(LITS, "data-manifests/lits.yaml")?, LITS.to_string()),
    };
    let synthetic = SyntheticInfo::read_in(raw)?;
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
    let job = PrepareJob {
        name: "lits",
        raw,
        out,
        dataset: &manifest.dataset,
        manifest_text: &manifest_text,
        synthetic: synthetic.as_ref(),
    };
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
    /// The raw folder's synthetic.json, when the data are synthetic (copied beside the cases).
    pub synthetic: Option<&'a SyntheticInfo>,
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
    // Temporaries of a killed earlier attempt (a case is complete only once renamed into place).
    iw_core::remove_stale_temporaries(&cases_dir);
    iw_core::remove_stale_temporaries(out);
    let pb = bar(todo.len() as u64, &format!("prepare {}", job.name));
    let mut prepared = Vec::new();
    let mut skipped: Vec<(String, String)> = Vec::new();
    let mut failed = Vec::new();
    for id in todo {
        iw_run::interrupt::check(|| {
            format!(
                "{} of {} cases prepared into {} (each complete); rerun the same command to resume",
                prepared.len(),
                todo.len(),
                out.display()
            )
        })?;
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
    write_dataset_files(
        out,
        &DatasetFiles {
            dataset: job.dataset,
            raw: job.raw,
            manifest_text: job.manifest_text,
            prepared: &prepared,
            skipped: &skipped,
            missing,
            synthetic: job.synthetic,
            iw_version: env!("CARGO_PKG_VERSION"),
        },
    )?;
    println!(
        "prepared {} case(s) into {}{}; {} skipped, {} missing from the raw folder",
        prepared.len(),
        out.display(),
        if job.synthetic.is_some() { " (synthetic data)" } else { "" },
        skipped.len(),
        missing.len()
    );
    if !failed.is_empty() {
        bail!("{} case(s) could not be read: {} (see the messages above)", failed.len(), failed.join(", "));
    }
    Ok(())
}
