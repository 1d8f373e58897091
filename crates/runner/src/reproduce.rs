//! `iw reproduce lits|luna16|mets`: data, the ten configurations (several seeds), the report,
//! a README.
use crate::data_cmds::{prepare_lits, synth_lits};
use crate::experiment::Experiment;
use crate::run::{run_all, run_dir};
use anyhow::{bail, Context};
use iw_metrics::{
    evaluate_method, format_csv, format_table, load_records_dir, write_froc_figures, EvalOptions, MethodRecords,
};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The datasets `iw reproduce` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dataset {
    /// LiTS (volume-N.nii / segmentation-N.nii).
    Lits,
    /// LUNA16 (subsets, lung masks, annotations.csv, LIDC XML).
    Luna16,
    /// Brain metastases (nnU-Net layout; synthetic only: the paper's data are private).
    Mets,
}

impl Dataset {
    /// The registry's entry: names, title, small-lesion threshold (`iw_core::datasets`).
    pub fn info(self) -> &'static iw_core::datasets::Dataset {
        let key = match self {
            Dataset::Lits => "lits",
            Dataset::Luna16 => "luna16",
            Dataset::Mets => "mets",
        };
        iw_core::datasets::dataset(key).expect("every reproducible dataset is in the registry")
    }
    /// Folder under experiments/ and the default results/ name.
    pub fn key(self) -> &'static str {
        self.info().key
    }
    /// Synthetic data per scale: cases and shape (x, y, z).
    fn synthetic_data(self, scale: &str) -> (usize, [usize; 3]) {
        match (self, scale) {
            (Dataset::Lits, "smoke") => (2, [48, 48, 24]),
            (Dataset::Lits, _) => (20, [128, 128, 64]),
            (Dataset::Luna16, "smoke") => (10, [64, 64, 48]),
            (Dataset::Luna16, _) => (30, [128, 128, 80]),
            (Dataset::Mets, "smoke") => (3, [0, 0, 4]),
            (Dataset::Mets, _) => (20, [0, 0, 2]),
        }
    }
    fn prepare(self, raw: &Path, prepared: &Path) -> anyhow::Result<()> {
        match self {
            Dataset::Lits => prepare_lits(raw, prepared, None),
            Dataset::Luna16 => crate::luna16_cmds::prepare_luna16(raw, prepared, None),
            Dataset::Mets => crate::nnunet_cmds::prepare_nnunet(&crate::nnunet_cmds::NnunetArgs {
                raw,
                out: prepared,
                dataset: Some("mets"),
                channels: vec![0],
                labels: vec![],
                scaling: None,
                crop_nonzero: Some(0),
                manifest: None,
            }),
        }
    }
    fn synth(self, raw: &Path, cases: usize, shape: [usize; 3]) -> anyhow::Result<()> {
        match self {
            Dataset::Lits => {
                synth_lits(raw, cases, 0, &iw_synth::lits::PhantomOptions { shape_xyz: shape, ..Default::default() }, 2)
            }
            Dataset::Luna16 => crate::luna16_cmds::synth_luna16(raw, cases, 0, shape, None, 2),
            Dataset::Mets => crate::nnunet_cmds::synth_mets(raw, cases, 0, shape[2], 2),
        }
    }
}

/// Runs the reproduction of `dataset`.
#[allow(clippy::too_many_arguments)]
pub fn reproduce(
    dataset: Dataset,
    raw_dir: Option<&Path>,
    scale: Option<&str>,
    seeds: Option<usize>,
    out: &Path,
    work: &Path,
    only: Option<&str>,
    data_only: bool,
) -> anyhow::Result<()> {
    let t0 = Instant::now();
    let real = raw_dir.is_some();
    let scale = scale.unwrap_or(if real { "paper" } else { "cpu" }).to_string();
    if !["paper", "cpu", "smoke"].contains(&scale.as_str()) {
        bail!("--scale must be paper, cpu or smoke, not {scale:?}");
    }
    let seeds = seeds.unwrap_or(if scale == "cpu" { 3 } else { 1 });
    let repo = PathBuf::from("experiments");
    let key = dataset.key();
    let title = dataset.info().title;
    if !repo.join(key).is_dir() {
        bail!("experiments/{key} not found: run from the repository root");
    }
    // Data.
    let (prepared, data_note) = match raw_dir {
        Some(raw) => {
            let prepared = work.join(format!("{key}/prepared"));
            dataset.prepare(raw, &prepared)?;
            (prepared, format!("the {title} data from `{}` (real data), the paper's split", raw.display()))
        }
        None => {
            let base = work.join(format!("{key}-synth-{scale}"));
            let (raw, prepared) = (base.join("raw"), base.join("prepared"));
            let (cases, shape) = dataset.synthetic_data(&scale);
            if !raw.join("synthetic.json").is_file() {
                dataset.synth(&raw, cases, shape)?;
            }
            if !prepared.join("dataset.json").is_file() {
                dataset.prepare(&raw, &prepared)?;
            }
            let size = if dataset == Dataset::Mets {
                format!("the MNI152 template at {} mm", shape[2])
            } else {
                format!("{} x {} x {} voxels", shape[0], shape[1], shape[2])
            };
            (prepared, format!("SYNTHETIC {title}-format data (`iw synth {key}`, {cases} cases of {size}, seed 0), not the real data"))
        }
    };
    if data_only {
        println!("data ready: {}", prepared.display());
        return Ok(());
    }
    let overlay: Vec<PathBuf> =
        if scale == "paper" { vec![] } else { vec![repo.join("scales").join(format!("{scale}.yaml"))] };
    let names: Vec<String> = match only {
        Some(list) => list.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect(),
        None => iw_losses::PAPER_CONFIGURATIONS.iter().map(|s| s.to_string()).collect(),
    };
    let runs =
        work.join(if dataset == Dataset::Lits { format!("runs-{scale}") } else { format!("runs-{key}-{scale}") });
    let mut example_cfg = String::new();
    for k in 0..seeds {
        for name in &names {
            let file = repo.join(key).join(format!("{name}.yaml"));
            let mut exp = Experiment::load_with(&file, &overlay, &[])?;
            exp.dataset.prepared = prepared.clone();
            exp.training.seed += k as u64;
            println!(
                "== {name}, seed {} ({}/{})",
                exp.training.seed,
                k * names.len() + names.iter().position(|n| n == name).unwrap_or(0) + 1,
                seeds * names.len()
            );
            let dir = run_dir(&runs, &exp, k);
            run_all(&exp, &dir).with_context(|| format!("{name}, experiment {k}"))?;
            if example_cfg.is_empty() {
                example_cfg = exp.to_yaml();
            }
        }
    }
    // The table (experiments pooled) and figures.
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let synthetic_info = iw_data::prepared::SyntheticInfo::read_in(&prepared)?;
    let small_below = synthetic_info.as_ref().and_then(|m| m.small_below_equivalent);
    let opts =
        EvalOptions { small_below: Some(small_below.unwrap_or(dataset.info().small_below)), ..EvalOptions::default() };
    let all: Vec<MethodRecords> = load_records_dir(&runs)?.into_iter().filter(|m| names.contains(&m.method)).collect();
    let rows = all.iter().map(|m| evaluate_method(m, &opts)).collect::<Result<Vec<_>, _>>()?;
    std::fs::write(out.join("table.md"), format_table(&rows))?;
    std::fs::write(out.join("table.csv"), format_csv(&rows))?;
    write_froc_figures(&rows, out)?;
    // Per seed: each experiment folder on its own.
    let per_seed = iw_metrics::comparison::per_seed(&all, &opts)?;
    let science = iw_metrics::comparison::iw_vs_base_table(&per_seed);
    let seeds_table = iw_metrics::comparison::per_seed_table(&per_seed);
    let synthetic = iw_data::prepared::PreparedDataset::info(&prepared)?.synthetic;
    let mut readme = String::new();
    let _ = writeln!(
        readme,
        "# {title} comparison: {}\n",
        if synthetic { format!("synthetic data, {scale} scale") } else { "real data".to_string() }
    );
    if synthetic {
        let _ = writeln!(readme, "**These numbers come from synthetic data, not from {title}.** They check the pipeline and the method's behaviour on {title}-like phantoms; they are not comparable to the paper's table.\n");
    }
    let _ = writeln!(readme, "- Data: {data_note}.");
    let _ = writeln!(
        readme,
        "- Scale: `{scale}` ({}); {seeds} seed(s) per configuration; configurations: {}.",
        if overlay.is_empty() {
            format!("experiments/{key} at paper scale")
        } else {
            format!("experiments/{key} overlaid with {}", overlay[0].display())
        },
        names.join(", ")
    );
    let _ = writeln!(
        readme,
        "- Small lesions: diameter below {} voxels{}.",
        opts.small_below.map_or("-".to_string(), |v| format!("{v:.2}")),
        if small_below.is_some() {
            format!(
                " (the paper's {} voxels at the phantom's resolution: synthetic.json's small_below_equivalent)",
                dataset.info().small_below
            )
        } else {
            String::new()
        }
    );
    // Compute time of the runs, from their run.json (this call may have skipped finished stages).
    let mut compute_s = 0.0;
    for m in &all {
        for f in &m.files {
            if let Some(run) = f.parent().and_then(|p| p.parent()) {
                if let Some(r) = crate::run::RunRecord::read_in(run)? {
                    compute_s += r.stages.values().map(|s| s.wall_s).sum::<f64>();
                }
            }
        }
    }
    let _ = writeln!(
        readme,
        "- Versions: iw {} (git {}), libtorch {}; compute time of the runs {:.1} min (train + predict + evaluate, from their run.json); command `iw reproduce {key} --scale {scale} --seeds {seeds}`.",
        env!("CARGO_PKG_VERSION"),
        env!("IW_GIT_REVISION"),
        env!("IW_TORCH_VERSION"),
        compute_s / 60.0
    );
    let _ = writeln!(
        readme,
        "- Runs: `{}` (each with config.yaml, run.json, train_log.csv, train_curve.png, predictions and records).\n",
        runs.display()
    );
    let _ = writeln!(readme, "## Table (all seeds pooled as cases)\n\n{}\n", format_table(&rows));
    if let Some(r) = rows.first() {
        let _ = writeln!(readme, "![FROC](froc_{}.png)\n", r.dataset);
    }
    let _ = writeln!(readme, "## Does iw raise small-lesion average recall? (mean ± sd over seeds)\n\n{science}");
    let _ = writeln!(readme, "## Per seed\n\n{seeds_table}");
    if let Ok(findings) = std::fs::read_to_string(repo.join(key).join(format!("FINDINGS-{scale}.md"))) {
        let _ = writeln!(readme, "{findings}");
    }
    let _ = writeln!(readme, "## Resolved configuration (first run)\n\n```yaml\n{example_cfg}```");
    std::fs::write(out.join("README.md"), readme)?;
    println!(
        "wrote {} (table.md, table.csv, FROC figures, README.md) in {:.1} min",
        out.display(),
        t0.elapsed().as_secs_f64() / 60.0
    );
    Ok(())
}
