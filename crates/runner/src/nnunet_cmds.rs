//! `iw synth mets` and `iw prepare nnunet`.
use crate::data_cmds::{case_seed, for_each_case, prepare_all, PrepareJob};
use anyhow::{bail, Context};
use iw_core::write_file_atomically;
use iw_data::manifest::{CaseId, Manifest};
use iw_data::nnunet::{find_nnunet, prepare_case, NnOptions, Scaling};
use iw_io::write_volume;
use iw_synth::mets::{mets_case, BrainTemplate};
use serde_json::json;
use std::path::Path;
use std::sync::Mutex;

/// `iw synth mets`.
/// `test_cases`: the size of the test split (default: LiTS's proportion, 28 of 131).
pub fn synth_mets(
    out: &Path,
    cases: usize,
    seed: u64,
    factor: usize,
    threads: usize,
    test_cases: Option<usize>,
) -> anyhow::Result<()> {
    if cases < 3 {
        bail!("--cases must be at least 3");
    }
    if !(1..=4).contains(&factor) {
        bail!("--downsample must be 1, 2, 3 or 4");
    }
    crate::data_cmds::synth_folder(out, "iw synth mets")?;
    let hint = "nilearn ships the MNI152 templates: run `make setup`";
    let data = "datasets/data/mni_icbm152_";
    let t1 = crate::python_data::package_file("nilearn", &format!("{data}t1_tal_nlin_sym_09a_converted.nii.gz"), hint)?;
    let gm = crate::python_data::package_file("nilearn", &format!("{data}gm_tal_nlin_sym_09a_converted.nii.gz"), hint)?;
    let wm = crate::python_data::package_file("nilearn", &format!("{data}wm_tal_nlin_sym_09a_converted.nii.gz"), hint)?;
    let tpl = BrainTemplate::load(&t1, &gm, &wm, factor)?;
    for d in ["imagesTr", "labelsTr"] {
        std::fs::create_dir_all(out.join(d)).with_context(|| format!("creating {}", out.join(d).display()))?;
    }
    let diameters = Mutex::new(vec![Vec::new(); cases]);
    for_each_case(cases, threads, "synth mets", |i| {
        let c = mets_case(case_seed(seed, i), &tpl);
        let (ip, lp) =
            (out.join(format!("imagesTr/mets_{i:03}_0000.nii.gz")), out.join(format!("labelsTr/mets_{i:03}.nii.gz")));
        // The labels last: a case with its label file is complete.
        if !lp.exists() {
            write_volume(&ip, &c.image)?;
            write_volume(&lp, &c.labels)?;
        }
        diameters.lock().expect("lock")[i] = c.diameters;
        Ok(())
    })?;
    let diameters = diameters.into_inner().expect("lock");
    let all: Vec<f64> = diameters.iter().flatten().copied().collect();
    let small = all.iter().filter(|&&d| d < 5.0).count();
    let dataset = json!({
        "name": "SyntheticBrainMets",
        "description": "Synthetic FLAIR-like brain MR with multiple metastases on the MNI152 2009a template (iw synth mets). NOT patient data.",
        "channel_names": {"0": "FLAIR"},
        "labels": {"background": 0, "metastasis": 1},
        "numTraining": cases,
        "file_ending": ".nii.gz",
    });
    write_file_atomically(&out.join("dataset.json"), serde_json::to_string_pretty(&dataset)?.as_bytes())?;
    let meta = crate::data_cmds::synthetic_meta(
        "iw synth mets",
        seed,
        cases,
        json!({
            "downsample": factor,
            "spacing_xyz_mm": tpl.geometry.spacing_xyz_mm,
            "lesions_per_case": diameters.iter().map(Vec::len).collect::<Vec<_>>(),
            "lesions_below_5_voxels": small,
            "lesions": all.len(),
            "small_below_equivalent": 5.0,
            "template": t1.display().to_string(),
            "note": "Lesion diameters are in voxels of these volumes; the paper's small threshold for metastases (5 voxels) applies as is.",
        }),
    );
    meta.write(&out.join("synthetic.json"))?;
    let mut manifest = Manifest::proportional_with_test("mets", cases, test_cases);
    let name = |c: &CaseId| CaseId::Text(format!("mets_{:03}", c.to_string().parse::<usize>().unwrap_or(0)));
    manifest.cases = manifest.cases.iter().map(name).collect();
    for part in [&mut manifest.split.train, &mut manifest.split.validation, &mut manifest.split.test] {
        *part = part.iter().map(name).collect();
    }
    let yaml = format!(
        "# Synthetic brain-metastases dataset written by `iw synth mets` (seed {seed}); split in the LiTS proportions.\n{}",
        serde_norway::to_string(&manifest)?
    );
    write_file_atomically(&out.join("manifest.yaml"), yaml.as_bytes())?;
    println!(
        "wrote {cases} synthetic brain MR cases ({} metastases, {small} below 5 voxels in diameter) to {} (nnU-Net layout)",
        all.len(),
        out.display()
    );
    Ok(())
}

/// Options of `iw prepare nnunet` as given on the command line.
pub struct NnunetArgs<'a> {
    /// Raw folder.
    pub raw: &'a Path,
    /// Output folder.
    pub out: &'a Path,
    /// Dataset name (default: the folder name, lower case).
    pub dataset: Option<&'a str>,
    /// Channel indices (empty: all, in order).
    pub channels: Vec<usize>,
    /// Foreground labels: numbers or names (empty: all non-zero).
    pub labels: Vec<String>,
    /// Scaling (default: from the channel's name).
    pub scaling: Option<Scaling>,
    /// Crop margin around the non-zero image; `None`: no crop.
    pub crop_nonzero: Option<usize>,
    /// Manifest (default: RAW/manifest.yaml, else a split in the LiTS proportions).
    pub manifest: Option<&'a Path>,
}

/// `iw prepare nnunet`.
pub fn prepare_nnunet(a: &NnunetArgs) -> anyhow::Result<()> {
    iw_run::outputs::output_path(a.out, &[a.raw], None)?;
    let ds = find_nnunet(a.raw)?;
    if ds.cases.is_empty() {
        bail!("{}: no labelled case (imagesTr/<case>_0000.* with labelsTr/<case>.*)", a.raw.display());
    }
    if !ds.unlabelled.is_empty() {
        eprintln!("warning: {} case(s) without labels left out: {}", ds.unlabelled.len(), ds.unlabelled.join(", "));
    }
    let chosen: Vec<usize> =
        if a.channels.is_empty() { ds.channels.keys().copied().collect() } else { a.channels.clone() };
    let mut channels = Vec::new();
    for &c in &chosen {
        let Some(name) = ds.channels.get(&c) else {
            bail!("{}: dataset.json names no channel {c} (channels: {:?})", a.raw.display(), ds.channels);
        };
        channels.push((c, name.clone(), a.scaling.unwrap_or_else(|| Scaling::for_channel(name))));
    }
    let mut foreground = Vec::new();
    for l in &a.labels {
        match l.parse::<i64>() {
            Ok(n) => foreground.push(n),
            Err(_) => match ds.labels.get(l) {
                Some(&n) => foreground.push(n),
                None => bail!("label {l:?} is not in dataset.json (labels: {:?})", ds.labels),
            },
        }
    }
    let opts = NnOptions {
        channels: channels.iter().map(|(c, _, s)| (*c, *s)).collect(),
        foreground: foreground.clone(),
        crop_nonzero: a.crop_nonzero,
    };
    let name = a.dataset.map(str::to_string).unwrap_or_else(|| {
        a.raw.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_else(|| "nnunet".into())
    });
    let (manifest, text) = match a.manifest.map(Path::to_path_buf).or_else(|| {
        let p = a.raw.join("manifest.yaml");
        p.is_file().then_some(p)
    }) {
        Some(p) => (Manifest::read(&p)?, std::fs::read_to_string(&p)?),
        None => {
            let ids: Vec<CaseId> = ds.cases.keys().cloned().map(CaseId::Text).collect();
            let mut m = Manifest::proportional(&name, ids.len());
            let map =
                |l: &[CaseId]| l.iter().map(|c| ids[c.to_string().parse::<usize>().expect("index")].clone()).collect();
            m.split = iw_data::manifest::Split {
                train: map(&m.split.train),
                validation: map(&m.split.validation),
                test: map(&m.split.test),
            };
            m.cases = ids;
            let t = format!(
                "# Split of {} in the LiTS proportions (sorted case ids), by `iw prepare nnunet`.\n{}",
                a.raw.display(),
                serde_norway::to_string(&m)?
            );
            (m, t)
        }
    };
    let ids = Manifest::ids(&manifest.cases);
    let missing: Vec<String> = ids.iter().filter(|id| !ds.cases.contains_key(*id)).cloned().collect();
    if !missing.is_empty() {
        eprintln!(
            "warning: {} case(s) of the manifest are missing from {}: {}",
            missing.len(),
            a.raw.display(),
            missing.join(", ")
        );
    }
    let todo: Vec<String> = ids.into_iter().filter(|id| ds.cases.contains_key(id)).collect();
    let described: Vec<String> = channels.iter().map(|(c, n, s)| format!("{c} ({n}, scaling {s:?})")).collect();
    println!(
        "channels {}; lesion labels {}",
        described.join(", "),
        if foreground.is_empty() { "all non-zero".to_string() } else { format!("{foreground:?}") }
    );
    let synthetic = iw_data::prepared::SyntheticInfo::read_in(a.raw)?;
    let job = PrepareJob {
        name: "nnunet",
        raw: a.raw,
        out: a.out,
        dataset: &manifest.dataset,
        manifest_text: &text,
        synthetic: synthetic.as_ref(),
    };
    prepare_all(&job, &todo, &missing, |cases_dir, id| Ok(prepare_case(cases_dir, &ds.cases[id], &opts)?))
}
