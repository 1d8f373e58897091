//! `iw reproduce lits|luna16|mets`: data, the ten configurations (several seeds), the report,
//! a README.
use crate::data_cmds::{prepare_lits, synth_lits};
use crate::grid::{dispatch, Completion, Executed, Executor, Grid, RunState};
use anyhow::{bail, Context};
use iw_metrics::operating::points;
use iw_metrics::{format_csv, format_table, write_froc_figures, EvalOptions, MethodRecords};
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
    /// The synthetic data of a scale.
    pub fn synthetic(self, scale: &str) -> Synthetic {
        use iw_synth::lits::PhantomOptions;
        let lits = |cases, test_cases, shape_xyz, contrast: [f64; 2], noise: [f64; 2]| Synthetic::Lits {
            cases,
            test_cases,
            phantom: PhantomOptions {
                shape_xyz,
                tumour_contrast_hu: contrast,
                noise_sd_hu: noise,
                ..Default::default()
            },
        };
        match (self, scale) {
            (Dataset::Lits, "smoke") => lits(2, None, [48, 48, 24], [10.0, 70.0], [10.0, 20.0]),
            // CPU: tumours 40..90 HU darker than the liver, noise 6..12 HU (real LiTS: 10..70,
            // 10..20), so that a 1000-step run of a quarter-width network learns them. 16 cases
            // train and validate, 12 test (the paired intervals rest on the test cases).
            (Dataset::Lits, "cpu") => lits(28, Some(12), [128, 128, 64], [40.0, 90.0], [6.0, 12.0]),
            (Dataset::Lits, _) => lits(40, None, [256, 256, 128], [10.0, 70.0], [10.0, 20.0]),
            (Dataset::Luna16, "smoke") => Synthetic::Luna16 { cases: 10, shape_xyz: [64, 64, 48] },
            // 60 scans: the held-out subsets 8-9 get 12 of them (30 gave 3 nodules).
            (Dataset::Luna16, "cpu") => Synthetic::Luna16 { cases: 60, shape_xyz: [128, 128, 80] },
            (Dataset::Luna16, _) => Synthetic::Luna16 { cases: 60, shape_xyz: [160, 160, 96] },
            (Dataset::Mets, "smoke") => Synthetic::Mets { cases: 3, test_cases: None, downsample: 4 },
            // 16 cases train and validate, 12 test.
            (Dataset::Mets, "cpu") => Synthetic::Mets { cases: 28, test_cases: Some(12), downsample: 2 },
            (Dataset::Mets, _) => Synthetic::Mets { cases: 40, test_cases: None, downsample: 2 },
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
}

/// What `iw synth` writes for a scale.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Synthetic {
    /// `iw synth lits`.
    Lits {
        /// Cases.
        cases: usize,
        /// Test cases among them (`None`: the paper's proportion, 28 of 131).
        test_cases: Option<usize>,
        /// Shape, contrast and noise.
        phantom: iw_synth::lits::PhantomOptions,
    },
    /// `iw synth luna16`.
    Luna16 {
        /// Scans.
        cases: usize,
        /// Shape, x, y, z.
        shape_xyz: [usize; 3],
    },
    /// `iw synth mets`.
    Mets {
        /// Cases.
        cases: usize,
        /// Test cases among them (`None`: LiTS's proportion).
        test_cases: Option<usize>,
        /// Downsampling of the 1 mm MNI template.
        downsample: usize,
    },
}

impl Synthetic {
    /// Writes the data into `raw`.
    pub fn write(&self, raw: &Path) -> anyhow::Result<()> {
        match *self {
            Synthetic::Lits { cases, test_cases, phantom } => synth_lits(raw, cases, 0, &phantom, 2, test_cases),
            Synthetic::Luna16 { cases, shape_xyz } => {
                crate::luna16_cmds::synth_luna16(raw, cases, 0, shape_xyz, None, 2)
            }
            Synthetic::Mets { cases, test_cases, downsample } => {
                crate::nnunet_cmds::synth_mets(raw, cases, 0, downsample, 2, test_cases)
            }
        }
    }
    /// What it is, in words.
    pub fn describe(&self) -> String {
        match self {
            Synthetic::Lits { cases, phantom: p, .. } => format!(
                "{cases} cases of {} x {} x {} voxels, tumours {}..{} HU darker than the liver, noise {}..{} HU",
                p.shape_xyz[0],
                p.shape_xyz[1],
                p.shape_xyz[2],
                p.tumour_contrast_hu[0],
                p.tumour_contrast_hu[1],
                p.noise_sd_hu[0],
                p.noise_sd_hu[1]
            ),
            Synthetic::Luna16 { cases, shape_xyz: s } => {
                format!("{cases} scans of {} x {} x {} voxels", s[0], s[1], s[2])
            }
            Synthetic::Mets { cases, downsample, .. } => {
                format!("{cases} cases on the MNI152 template at {downsample} mm")
            }
        }
    }
}

/// The scales `iw reproduce` knows (`experiments/scales/<scale>.yaml`).
pub const SCALES: [&str; 4] = ["paper", "gpu", "cpu", "smoke"];

/// Where the results of a scale go by default: `results/<dataset>` for the data's own scale
/// (paper for real data, cpu for synthetic), `results/<dataset>-gpu` for the GPU scale, and the
/// work folder for the smoke scale (plumbing only, not worth committing).
pub fn default_out(key: &str, scale: &str, real: bool, work: &Path) -> PathBuf {
    let own = if real { "paper" } else { "cpu" };
    match scale {
        "smoke" => work.join("results-smoke").join(key),
        s if s == own => PathBuf::from("results").join(key),
        s => PathBuf::from("results").join(format!("{key}-{s}")),
    }
}

/// How `iw reproduce` runs its grid.
#[derive(Debug, Clone, PartialEq)]
pub struct GridChoice {
    /// Local (`--jobs`, `--devices`, `--threads`) or SLURM.
    pub executor: Executor,
    /// Run nothing; rebuild the results from the runs on disk.
    pub report_only: bool,
    /// Wait for the runs held elsewhere (`--wait`).
    pub wait: bool,
    /// Add the runs to a different grid already in the runs folder (`--add`).
    pub add: bool,
}

impl Default for GridChoice {
    fn default() -> Self {
        GridChoice {
            executor: Executor::Local(crate::grid::local::LocalOptions::default()),
            report_only: false,
            wait: false,
            add: false,
        }
    }
}

/// Runs the reproduction of `dataset`: its grid (configurations x seeds) with `choice`'s
/// executor, then the results from every run that finished. While runs are missing the report
/// is partial and says so at its top (README.md, report.html, `"complete": false` in
/// report.json), and the result is [`crate::grid::Unfinished`] (exit code 3 or 4) after it is
/// written. A SLURM submission returns at once (exit code 4: its report job writes the results),
/// or with `--wait` once the array and its report job have ended.
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
    choice: &GridChoice,
) -> anyhow::Result<()> {
    let t0 = Instant::now();
    let real = raw_dir.is_some();
    let scale = scale.unwrap_or(if real { "paper" } else { "cpu" }).to_string();
    if !SCALES.contains(&scale.as_str()) {
        bail!("--scale must be one of {}, not {scale:?}", SCALES.join(", "));
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
            if !(choice.report_only && prepared.join("dataset.json").is_file()) {
                dataset.prepare(raw, &prepared)?;
            }
            (prepared, format!("the {title} data from `{}` (real data), the paper's split", raw.display()))
        }
        None => {
            let base = work.join(format!("{key}-synth-{scale}"));
            let (raw, prepared) = (base.join("raw"), base.join("prepared"));
            let spec = dataset.synthetic(&scale);
            if !raw.join("synthetic.json").is_file() {
                spec.write(&raw)?;
            }
            if !prepared.join("dataset.json").is_file() {
                dataset.prepare(&raw, &prepared)?;
            }
            (
                prepared,
                format!(
                    "SYNTHETIC {title}-format data (`iw synth {key}`, {}, seed 0), not the real data",
                    spec.describe()
                ),
            )
        }
    };
    if data_only {
        println!("data ready: {}", prepared.display());
        return Ok(());
    }
    // The scale's overlay, then the dataset's own adjustments to it (experiments/<key>/scale-<scale>.yaml).
    let mut overlay: Vec<PathBuf> =
        if scale == "paper" { vec![] } else { vec![repo.join("scales").join(format!("{scale}.yaml"))] };
    let own = repo.join(key).join(format!("scale-{scale}.yaml"));
    if own.is_file() {
        overlay.push(own);
    }
    let names: Vec<String> = match only {
        Some(list) => list.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect(),
        None => iw_config::PAPER_CONFIGURATIONS.iter().map(|s| s.to_string()).collect(),
    };
    let runs =
        work.join(if dataset == Dataset::Lits { format!("runs-{scale}") } else { format!("runs-{key}-{scale}") });
    let files: Vec<PathBuf> = names.iter().map(|n| repo.join(key).join(format!("{n}.yaml"))).collect();
    let grid = Grid::plan(&files, &overlay, &[format!("dataset.prepared={}", prepared.display())], seeds, &runs)?;
    let example_cfg = grid.runs[0].load(&[])?.to_yaml();
    let mut indices: Vec<usize> = (0..grid.runs.len()).collect();
    let mut grid = grid;
    if !choice.report_only {
        let (on_disk, idx, file) = grid.adopt(choice.add)?;
        (grid, indices) = (on_disk, idx);
        let q = |p: &Path| crate::grid::slurm::shell_quote(&p.display().to_string());
        let mut report = format!(
            "{} reproduce {key} --report-only --scale {scale} --seeds {seeds} --out {} --work {}",
            crate::grid::slurm::exe_quoted()?,
            q(out),
            q(work)
        );
        if let Some(raw) = raw_dir {
            report += &format!(" --{key}-dir {}", q(raw));
        }
        if let Some(list) = only {
            report += &format!(" --only {}", crate::grid::slurm::shell_quote(list));
        }
        match dispatch(&grid, &file, &indices, &choice.executor, choice.wait, &report)? {
            Executed::Submitted(_) => {
                // The report job writes the results (with --wait: it has).
                return Completion::of(&grid, &indices, &crate::grid::slurm::Tasks::of(&grid)).check(&grid);
            }
            Executed::Local(o) => {
                print!("{}", crate::grid::write_summary(&grid)?);
                if o.interrupted {
                    return Err(crate::grid::interrupted(&grid));
                }
            }
        }
    }
    let completion = Completion::of(&grid, &indices, &crate::grid::slurm::Tasks::of(&grid));
    // This command's runs only (grid.json may hold more, added with --add).
    let full = grid;
    let grid = Grid { runs: indices.iter().map(|&i| full.runs[i].clone()).collect(), ..full.clone() };
    let states = grid.states();
    let unfinished: Vec<(String, RunState)> = grid
        .runs
        .iter()
        .zip(states.iter().cloned())
        .filter(|(_, s)| *s != RunState::Done)
        .map(|(r, s)| (r.name.clone(), s))
        .collect();
    // The table (experiments pooled) and figures.
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let synthetic_info = iw_data::prepared::SyntheticInfo::read_in(&prepared)?;
    let small_below = synthetic_info.as_ref().and_then(|m| m.small_below_equivalent);
    let opts =
        EvalOptions { small_below: Some(small_below.unwrap_or(dataset.info().small_below)), ..EvalOptions::default() };
    let all = finished_records(&grid, &states)?;
    if all.is_empty() {
        completion.check(&full)?;
        bail!("no run of {} has finished: nothing to report (`iw grid status {}`)", runs.display(), runs.display());
    }
    // Both matching rules: the paper's any-overlap rule and one to one at IoU >= 0.1.
    let tables = crate::evaluation::rule_tables(&all, &opts, &crate::evaluation::REPORT_RULES)?;
    let all_rows: Vec<iw_metrics::Row> = tables.iter().flat_map(|t| t.rows.iter().cloned()).collect();
    let table_md: Vec<String> = tables.iter().map(|t| format_table(&t.rows)).collect();
    std::fs::write(out.join("table.md"), table_md.join("\n"))?;
    std::fs::write(out.join("table.csv"), format_csv(&all_rows))?;
    for t in &tables {
        write_froc_figures(&t.rows, out)?;
    }
    // Per seed: each experiment folder on its own, under each rule.
    let small_t = opts.small_below.expect("set above");
    let mut analyses = Vec::new();
    let mut by_rule = serde_json::Map::new();
    for t in &tables {
        let o = EvalOptions { rule: t.rule, ..opts.clone() };
        let per_seed = iw_metrics::comparison::per_seed(&all, &o)?;
        let a = Analysis {
            summary: iw_report::OperatingSummary::new(&all, small_t, t.rule, &crate::evaluation::dice_of)?,
            science: iw_metrics::comparison::iw_vs_base_table(&per_seed),
            seeds_table: iw_metrics::comparison::per_seed_table(&per_seed),
        };
        let mut entry = t.summary.clone();
        if let Some(o) = entry.as_object_mut() {
            o.insert("describe".into(), t.rule.describe().into());
            o.insert("table".into(), iw_metrics::to_json(&t.rows));
        }
        by_rule.insert(t.rule.to_string(), entry);
        analyses.push((t, a));
    }
    let report = serde_json::json!({
        "dataset": key,
        "scale": scale,
        "synthetic": synthetic_info.is_some(),
        "small_below_voxels": small_t,
        "seeds": seeds,
        "configurations": names,
        "units": "a unit is one test case of one seed's run; pooled numbers pool the units of every seed",
        "bootstrap": {"samples": iw_metrics::operating::BOOTSTRAP_SAMPLES, "seed": iw_metrics::operating::BOOTSTRAP_SEED, "interval": "2.5th-97.5th percentile of the paired differences"},
        "rules": by_rule,
        "complete": unfinished.is_empty(),
        "unfinished_runs": unfinished.iter().map(|(n, s)| serde_json::json!({"run": n, "state": s.word(), "error": match s { RunState::Failed(e) => Some(e.clone()), _ => None }})).collect::<Vec<_>>(),
    });
    iw_core::write_file_atomically(&out.join("report.json"), serde_json::to_string_pretty(&report)?.as_bytes())?;
    let synthetic = iw_data::prepared::PreparedDataset::info(&prepared)?.synthetic;
    let mut readme = String::new();
    let partial = (!unfinished.is_empty()).then(|| {
        format!(
            "PARTIAL REPORT: {} of {} runs did not finish ({}); their numbers are missing below. Rerun the command (or `iw grid status {}`) and report again.",
            unfinished.len(),
            grid.runs.len(),
            unfinished.iter().map(|(n, s)| format!("{n}: {}", s.word())).collect::<Vec<_>>().join(", "),
            runs.display()
        )
    });
    if let Some(p) = &partial {
        let _ = writeln!(readme, "**{p}**\n");
    }
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
            format!(
                "experiments/{key} overlaid with {}",
                overlay.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(" and ")
            )
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
    // Compute time of the runs, from their run.json (this call may have skipped finished stages),
    // and the span from the first stage's start to the last one's end (runs may overlap).
    let mut compute_s = 0.0;
    let (mut first, mut last) = (f64::INFINITY, 0f64);
    for m in &all {
        for f in &m.files {
            if let Some(run) = f.parent().and_then(|p| p.parent()) {
                if let Some(r) = iw_run::RunRecord::read_in(run)? {
                    compute_s += r.stages.values().map(|s| s.wall_s).sum::<f64>();
                    for s in r.stages.values() {
                        first = first.min(s.finished_unix as f64 - s.wall_s);
                        last = last.max(s.finished_unix as f64);
                    }
                }
            }
        }
    }
    let span = if last > first {
        format!(", {:.1} min from the first run's start to the last one's end", (last - first) / 60.0)
    } else {
        String::new()
    };
    let _ = writeln!(
        readme,
        "- Versions: iw {} (git {}), libtorch {}; compute time of the runs {:.1} min (train + predict + evaluate, from their run.json){span}; command `iw reproduce {key} --scale {scale} --seeds {seeds}`.",
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
    if !unfinished.is_empty() {
        let _ = writeln!(
            readme,
            "## Runs that did not finish ({} of {}; not in the numbers below)\n\n| run | state | error |\n|---|---|---|",
            unfinished.len(),
            grid.runs.len()
        );
        for (n, st) in &unfinished {
            let e = if let RunState::Failed(e) = st { e.replace('|', "\\|") } else { String::new() };
            let _ = writeln!(readme, "| {n} | {} | {e} |", st.word());
        }
        readme.push('\n');
    }
    for (t, a) in &analyses {
        let _ = writeln!(
            readme,
            "## Matching {}: {}\n\n### At the operating points (all seeds pooled: {} units of seed x test case)\n\n{}",
            t.rule,
            t.rule.describe(),
            a.summary.unit_count(),
            a.pooled_table()
        );
        let _ = writeln!(
            readme,
            "### iw minus its base loss ({}), paired bootstrap 95 % intervals over seed x case\n\n{}",
            t.rule,
            a.differences_table()
        );
        let _ = writeln!(readme, "### Per configuration and seed ({})\n\n{}", t.rule, a.per_seed_table());
        let _ = writeln!(
            readme,
            "### The paper's table ({}; all seeds pooled as cases)\n\n{}\n",
            t.rule,
            format_table(&t.rows)
        );
        if let Some(r) = t.rows.first() {
            let suffix = if t.rule == iw_metrics::MatchRule::Overlap { "" } else { "_iou" };
            let _ = writeln!(readme, "![FROC ({})](froc_{}{suffix}.png)\n", t.rule, r.dataset);
        }
        let _ = writeln!(readme, "### The paper's numbers per seed ({}): does iw raise small-lesion average recall? (mean ± sd over seeds)\n\n{}", t.rule, a.science);
        let _ = writeln!(readme, "#### Per seed ({})\n\n{}", t.rule, a.seeds_table);
    }
    if let Ok(findings) = std::fs::read_to_string(repo.join(key).join(format!("FINDINGS-{scale}.md"))) {
        let _ = writeln!(readme, "{findings}");
    }
    let _ = writeln!(readme, "## Resolved configuration (first run)\n\n```yaml\n{example_cfg}```");
    std::fs::write(out.join("README.md"), readme)?;
    crate::evaluation::write_html(
        out,
        &crate::evaluation::HtmlPage {
            title: format!(
                "{title} comparison: {}",
                if synthetic { format!("synthetic data, {scale} scale") } else { "real data".into() }
            ),
            notes: partial
                .iter()
                .cloned()
                .chain([
                    format!("Data: {data_note}."),
                    format!("Scale: {scale}; {seeds} seed(s) per configuration; runs in {}.", runs.display()),
                    format!("Small lesions: diameter below {small_t:.2} voxels."),
                    format!(
                        "iw {} (git {}), libtorch {}; command `iw reproduce {key} --scale {scale} --seeds {seeds}`.",
                        env!("CARGO_PKG_VERSION"),
                        env!("IW_GIT_REVISION"),
                        env!("IW_TORCH_VERSION")
                    ),
                ])
                .collect(),
            rules: &tables,
            methods: &all,
            // results/<dataset>/report.html is committed: tiles up to ~1.5 MB, the smallest
            // lesions first (`iw report RUNS --html` writes every tile for local viewing).
            gallery_max_bytes: Some(REPORT_GALLERY_BYTES),
        },
    )?;
    println!(
        "wrote {} (table.md, table.csv, FROC figures, README.md, report.html) in {:.1} min",
        out.display(),
        t0.elapsed().as_secs_f64() / 60.0
    );
    if !unfinished.is_empty() {
        println!(
            "{} of {} runs did not finish (listed in {}/README.md)",
            unfinished.len(),
            grid.runs.len(),
            out.display()
        );
    }
    completion.check(&full)
}

/// The records of the grid's finished runs, per dataset and method (as `iw report` reads a
/// runs folder, but only the runs of this grid, and only those that are done).
fn finished_records(grid: &Grid, states: &[RunState]) -> anyhow::Result<Vec<MethodRecords>> {
    let mut by: std::collections::BTreeMap<(String, String), Vec<PathBuf>> = Default::default();
    let name =
        |p: Option<&Path>| p.and_then(|p| p.file_name()).map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    for (r, s) in grid.runs.iter().zip(states) {
        if *s == RunState::Done {
            let method = r.dir.parent();
            by.entry((name(method.and_then(|m| m.parent())), name(method))).or_default().push(r.dir.clone());
        }
    }
    let mut out = Vec::new();
    for ((dataset, method), mut exps) in by {
        exps.sort();
        let mut rec = MethodRecords { dataset, method, files: Vec::new(), cases: Default::default() };
        for e in &exps {
            let f = iw_run::RunDir::new(e).records();
            for (case, recs) in iw_metrics::read_records(&f)? {
                let id = if exps.len() > 1 { format!("{}:{case}", name(Some(e))) } else { case };
                rec.cases.insert(id, recs);
            }
            rec.files.push(f);
        }
        out.push(rec);
    }
    Ok(out)
}

/// The gallery bytes of `iw reproduce`'s report.html (a page committed under results/ stays
/// under ~2 MB).
const REPORT_GALLERY_BYTES: usize = 1_500_000;

/// One rule's operating points, paired comparisons and per-seed tables.
struct Analysis {
    summary: iw_report::OperatingSummary,
    /// Does iw raise small-lesion average recall, per seed (Markdown).
    science: String,
    /// Every method's per-seed numbers of the paper's table (Markdown).
    seeds_table: String,
}

impl Analysis {
    fn pooled_table(&self) -> String {
        let mut t = String::from(
            "| method | voxel Dice | FP / case (p > 0.5) | predicted / true volume | largest component / true volume | FP volume mm³ / case | small: lesions | small: recall p > 0.5 | small: recall at 1 FP/case | small: object Dice | large: lesions | large: recall p > 0.5 | large: recall at 1 FP/case | large: object Dice |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
        );
        for (m, p) in &self.summary.pooled {
            let _ = writeln!(
                t,
                "| {m} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                f3(p.voxel_dice),
                f2(p.all.fp_per_case),
                f2(p.all.volume_ratio),
                f2(p.largest_over_true),
                f1(p.fp_mm3_per_case),
                p.small.lesions,
                f3(p.small.recall_p05),
                f3(p.small.recall_1fp),
                f3(p.small.object_dice),
                p.large.lesions,
                f3(p.large.recall_p05),
                f3(p.large.recall_1fp),
                f3(p.large.object_dice)
            );
        }
        t + &format!("\nMatching {}. Recall at p > 0.5: lesions found by a predicted component under this rule; at 1 FP/case: the FROC (the paper's logit thresholds) at one false positive per case; object Dice: mean Dice of the found lesions with their match; FP / case: components that find no lesion under this rule; the volume ratio counts every predicted component; largest component / true volume: mean over cases with a lesion; FP volume: mm³ of the false-positive components per case.\n", self.summary.rule)
    }

    fn differences_table(&self) -> String {
        let rows = iw_report::DIFF_METRICS;
        let mut t = String::from("| metric |");
        let pairs: Vec<&String> = self.summary.differences.keys().collect();
        for p in &pairs {
            let _ = write!(t, " {p} |");
        }
        t += "\n|---|";
        t += &"---|".repeat(pairs.len());
        t += "\n";
        for (metric, stratum, label) in rows {
            let _ = write!(t, "| {label} |");
            for p in &pairs {
                let d = self.summary.differences[*p].iter().find(|d| d.metric == metric && d.stratum == stratum);
                let cell = match d {
                    Some(d) if d.diff.is_finite() => {
                        format!("{} → {}: {:+.3} [{:+.3}, {:+.3}]", f3(d.base), f3(d.iw), d.diff, d.ci95[0], d.ci95[1])
                    }
                    _ => "n/a".into(),
                };
                let _ = write!(t, " {cell} |");
            }
            t += "\n";
        }
        t + "\nEach cell: base → iw: difference [95 % interval]. An interval that excludes 0 is a difference the test cases support; n/a: undefined (no lesion of the stratum, or none detected).\n"
    }

    fn per_seed_table(&self) -> String {
        let mut t = String::from(
            "| method | run | small: recall p > 0.5 | small: recall at 1 FP | large: recall p > 0.5 | large: recall at 1 FP | small: object Dice | large: object Dice | voxel Dice | FP / case | predicted / true volume |\n|---|---|---|---|---|---|---|---|---|---|---|\n",
        );
        for (m, seeds) in &self.summary.units {
            for (e, u) in seeds {
                let p = points(u);
                let _ = writeln!(
                    t,
                    "| {m} | {e} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                    f3(p.small.recall_p05),
                    f3(p.small.recall_1fp),
                    f3(p.large.recall_p05),
                    f3(p.large.recall_1fp),
                    f3(p.small.object_dice),
                    f3(p.large.object_dice),
                    f3(p.voxel_dice),
                    f2(p.all.fp_per_case),
                    f2(p.all.volume_ratio)
                );
            }
        }
        t
    }
}

fn f3(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.3}")
    } else {
        "n/a".into()
    }
}

fn f1(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.1}")
    } else {
        "n/a".into()
    }
}

fn f2(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.2}")
    } else {
        "n/a".into()
    }
}
