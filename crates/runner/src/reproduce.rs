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

/// The experiments folder, relative to the working directory (the repository root).
const EXPERIMENTS: &str = "experiments";

/// One `iw reproduce`: the command line's choices checked and their defaults filled in, once.
#[derive(Debug, Clone)]
pub struct ReproducePlan {
    /// The dataset.
    pub dataset: Dataset,
    /// The raw real data (`--<dataset>-dir`); `None`: synthetic data.
    pub raw_dir: Option<PathBuf>,
    /// One of [`SCALES`] (default: paper for real data, cpu for synthetic).
    pub scale: String,
    /// Seeds per configuration (default: 3 at the cpu scale, else 1).
    pub seeds: usize,
    /// `--only` as given (the SLURM report job repeats it).
    pub only: Option<String>,
    /// The configurations: `--only`'s, else the paper's ten.
    pub configurations: Vec<String>,
    /// Results folder ([`default_out`] unless given).
    pub out: PathBuf,
    /// Work folder (data and runs).
    pub work: PathBuf,
    /// Only write (or find) the prepared data, then stop.
    pub data_only: bool,
    /// How the grid runs.
    pub choice: GridChoice,
}

impl ReproducePlan {
    /// The plan of `iw reproduce <dataset>` with `raw_dir` (real data) and `args`: the executor
    /// and the scale checked, the defaults filled in; an error when not run from the
    /// repository root (no experiments/<dataset>).
    pub fn new(dataset: Dataset, raw_dir: Option<PathBuf>, args: crate::cli::ReproduceArgs) -> anyhow::Result<Self> {
        let choice = GridChoice {
            executor: args.exec.executor()?,
            report_only: args.report_only,
            wait: args.exec.wait,
            add: args.exec.add,
        };
        let real = raw_dir.is_some();
        let scale = args.scale.unwrap_or_else(|| if real { "paper" } else { "cpu" }.to_string());
        if !SCALES.contains(&scale.as_str()) {
            bail!("--scale must be one of {}, not {scale:?}", SCALES.join(", "));
        }
        let key = dataset.key();
        if !Path::new(EXPERIMENTS).join(key).is_dir() {
            bail!("experiments/{key} not found: run from the repository root");
        }
        let configurations = match &args.only {
            Some(list) => list.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect(),
            None => iw_config::PAPER_CONFIGURATIONS.iter().map(|s| s.to_string()).collect(),
        };
        Ok(ReproducePlan {
            seeds: args.seeds.unwrap_or(if scale == "cpu" { 2 } else { 1 }),
            out: args.out.unwrap_or_else(|| default_out(key, &scale, real, &args.work)),
            dataset,
            raw_dir,
            scale,
            only: args.only,
            configurations,
            work: args.work,
            data_only: args.data_only,
            choice,
        })
    }

    /// experiments/<dataset>.
    fn experiments(&self) -> PathBuf {
        Path::new(EXPERIMENTS).join(self.dataset.key())
    }

    /// The configurations' experiment files.
    fn experiment_files(&self) -> Vec<PathBuf> {
        self.configurations.iter().map(|n| self.experiments().join(format!("{n}.yaml"))).collect()
    }

    /// The scale's overlay, then the dataset's own adjustments to it
    /// (experiments/<dataset>/scale-<scale>.yaml).
    fn overlays(&self) -> Vec<PathBuf> {
        let scale = &self.scale;
        let mut overlay: Vec<PathBuf> = if scale == "paper" {
            vec![]
        } else {
            vec![Path::new(EXPERIMENTS).join("scales").join(format!("{scale}.yaml"))]
        };
        let own = self.experiments().join(format!("scale-{scale}.yaml"));
        if own.is_file() {
            overlay.push(own);
        }
        overlay
    }

    /// The runs folder: <work>/runs-<scale> for LiTS, <work>/runs-<dataset>-<scale> otherwise.
    fn runs_dir(&self) -> PathBuf {
        let (key, scale) = (self.dataset.key(), &self.scale);
        self.work.join(if self.dataset == Dataset::Lits {
            format!("runs-{scale}")
        } else {
            format!("runs-{key}-{scale}")
        })
    }

    /// Step 1: the prepared data, prepared (real data) or synthesised and prepared (synthetic)
    /// unless already there.
    fn data(&self) -> anyhow::Result<Data> {
        let (key, title) = (self.dataset.key(), self.dataset.info().title);
        match &self.raw_dir {
            Some(raw) => {
                let prepared = self.work.join(format!("{key}/prepared"));
                if !(self.choice.report_only && prepared.join("dataset.json").is_file()) {
                    self.dataset.prepare(raw, &prepared)?;
                }
                let note = format!("the {title} data from `{}` (real data), the paper's split", raw.display());
                Ok(Data { prepared, note })
            }
            None => {
                let base = self.work.join(format!("{key}-synth-{}", self.scale));
                let (raw, prepared) = (base.join("raw"), base.join("prepared"));
                let spec = self.dataset.synthetic(&self.scale);
                if !raw.join("synthetic.json").is_file() {
                    spec.write(&raw)?;
                }
                if !prepared.join("dataset.json").is_file() {
                    self.dataset.prepare(&raw, &prepared)?;
                }
                let note = format!(
                    "SYNTHETIC {title}-format data (`iw synth {key}`, {}, seed 0), not the real data",
                    spec.describe()
                );
                Ok(Data { prepared, note })
            }
        }
    }

    /// Step 2: the grid's runs with the chosen executor (none with --report-only), after
    /// adopting the grid already in the runs folder. Returns the grid and this command's runs
    /// in it.
    fn run_grid(&self, grid: Grid) -> anyhow::Result<Ran> {
        if self.choice.report_only {
            let indices = (0..grid.runs.len()).collect();
            return Ok(Ran::Here(grid, indices));
        }
        let (grid, indices, file) = grid.adopt(self.choice.add)?;
        match dispatch(&grid, &file, &indices, &self.choice.executor, self.choice.wait, &self.report_command()?)? {
            // The report job writes the results (with --wait: it has).
            Executed::Submitted(_) => Ok(Ran::Submitted(grid, indices)),
            Executed::Local(o) => {
                print!("{}", crate::grid::write_summary(&grid)?);
                if o.interrupted {
                    return Err(crate::grid::interrupted(&grid));
                }
                Ok(Ran::Here(grid, indices))
            }
        }
    }

    /// The `iw reproduce ... --report-only` that the SLURM report job runs.
    fn report_command(&self) -> anyhow::Result<String> {
        let key = self.dataset.key();
        let q = |p: &Path| crate::grid::slurm::shell_quote(&p.display().to_string());
        let mut report = format!(
            "{} reproduce {key} --report-only --scale {} --seeds {} --out {} --work {}",
            crate::grid::slurm::exe_quoted()?,
            self.scale,
            self.seeds,
            q(&self.out),
            q(&self.work)
        );
        if let Some(raw) = &self.raw_dir {
            report += &format!(" --{key}-dir {}", q(raw));
        }
        if let Some(list) = &self.only {
            report += &format!(" --only {}", crate::grid::slurm::shell_quote(list));
        }
        Ok(report)
    }

    /// `iw reproduce <dataset> --scale <scale> --seeds <seeds>`, as the README and report.html
    /// name it.
    fn command_line(&self) -> String {
        format!("iw reproduce {} --scale {} --seeds {}", self.dataset.key(), self.scale, self.seeds)
    }

    /// The title of the README and report.html.
    fn title(&self, synthetic: bool) -> String {
        format!(
            "{} comparison: {}",
            self.dataset.info().title,
            if synthetic { format!("synthetic data, {} scale", self.scale) } else { "real data".to_string() }
        )
    }
}

/// The prepared data and where they come from, in words.
struct Data {
    prepared: PathBuf,
    note: String,
}

/// Where the grid's runs went: the grid (with any runs of earlier `--add`s) and this command's
/// runs in it.
enum Ran {
    /// To SLURM: its report job writes the results.
    Submitted(Grid, Vec<usize>),
    /// Here (or nowhere, with --report-only): the results are written now.
    Here(Grid, Vec<usize>),
}

/// Runs the reproduction `plan`: its data, its grid (configurations x seeds) with the plan's
/// executor, then the results from every run that finished. While runs are missing the report
/// is partial and says so at its top (README.md, report.html, `"complete": false` in
/// report.json), and the result is [`crate::grid::Unfinished`] (exit code 3 or 4) after it is
/// written. A SLURM submission returns at once (exit code 4: its report job writes the results),
/// or with `--wait` once the array and its report job have ended.
pub fn reproduce(plan: &ReproducePlan) -> anyhow::Result<()> {
    let t0 = Instant::now();
    let data = plan.data()?;
    if plan.data_only {
        println!("data ready: {}", data.prepared.display());
        return Ok(());
    }
    let runs = plan.runs_dir();
    let sets = [format!("dataset.prepared={}", data.prepared.display())];
    let grid = Grid::plan(&plan.experiment_files(), &plan.overlays(), &sets, plan.seeds, &runs)?;
    let example_cfg = grid.runs[0].load(&[])?.to_yaml();
    let (full, indices) = match plan.run_grid(grid)? {
        Ran::Submitted(grid, indices) => {
            return Completion::of(&grid, &indices, &crate::grid::slurm::Tasks::of(&grid)).check(&grid)
        }
        Ran::Here(grid, indices) => (grid, indices),
    };
    let completion = Completion::of(&full, &indices, &crate::grid::slurm::Tasks::of(&full));
    // This command's runs only (grid.json may hold more, added with --add).
    let grid = Grid { runs: indices.iter().map(|&i| full.runs[i].clone()).collect(), ..full.clone() };
    let states = grid.states();
    let unfinished: Vec<(String, RunState)> = grid
        .runs
        .iter()
        .zip(states.iter().cloned())
        .filter(|(_, s)| *s != RunState::Done)
        .map(|(r, s)| (r.name.clone(), s))
        .collect();
    let out = &plan.out;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let Some(results) = Results::evaluate(plan, &grid, &states, &data.prepared)? else {
        completion.check(&full)?;
        bail!("no run of {} has finished: nothing to report (`iw grid status {}`)", runs.display(), runs.display());
    };
    results.write_tables(out)?;
    let analyses = results.analyses()?;
    let report = results.report_json(plan, &unfinished);
    iw_core::write_file_atomically(&out.join("report.json"), serde_json::to_string_pretty(&report)?.as_bytes())?;
    let page = Page {
        plan,
        data: &data,
        synthetic: iw_data::prepared::PreparedDataset::info(&data.prepared)?.synthetic,
        runs: &runs,
        total_runs: grid.runs.len(),
        unfinished: &unfinished,
        results: &results,
        runs_made: results.runs_made()?,
    };
    iw_core::write_file_atomically(&out.join("README.md"), page.readme(&analyses, &example_cfg)?.as_bytes())?;
    page.write_html()?;
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

/// Step 3: the records of the finished runs, evaluated under both matching rules (the paper's
/// any-overlap rule and one to one at IoU >= 0.1).
struct Results {
    /// synthetic.json of the prepared data (synthetic data only).
    synthetic_info: Option<iw_data::prepared::SyntheticInfo>,
    /// The paper's small-lesion threshold at the phantom's resolution (synthetic.json), if any.
    small_equivalent: Option<f64>,
    /// The evaluation's options (the small-lesion threshold set).
    opts: EvalOptions,
    /// The finished runs' records.
    all: Vec<MethodRecords>,
    /// The tables (experiments pooled) under each rule.
    tables: Vec<crate::evaluation::RuleTables>,
}

impl Results {
    /// The results of `grid`'s finished runs (`None`: none has finished).
    fn evaluate(
        plan: &ReproducePlan,
        grid: &Grid,
        states: &[RunState],
        prepared: &Path,
    ) -> anyhow::Result<Option<Results>> {
        let synthetic_info = iw_data::prepared::SyntheticInfo::read_in(prepared)?;
        let small_equivalent = synthetic_info.as_ref().and_then(|m| m.small_below_equivalent);
        let opts = EvalOptions {
            small_below: Some(small_equivalent.unwrap_or(plan.dataset.info().small_below)),
            ..EvalOptions::default()
        };
        let all = finished_records(grid, states)?;
        if all.is_empty() {
            return Ok(None);
        }
        let tables = crate::evaluation::rule_tables(&all, &opts, &crate::evaluation::REPORT_RULES)?;
        Ok(Some(Results { synthetic_info, small_equivalent, opts, all, tables }))
    }

    /// The small-lesion threshold, diameter in voxels.
    fn small_below(&self) -> f64 {
        self.opts.small_below.expect("set by Results::evaluate")
    }

    /// table.md, table.csv (every rule's rows) and the FROC figures.
    fn write_tables(&self, out: &Path) -> anyhow::Result<()> {
        let all_rows: Vec<iw_metrics::Row> = self.tables.iter().flat_map(|t| t.rows.iter().cloned()).collect();
        let table_md: Vec<String> = self.tables.iter().map(|t| format_table(&t.rows)).collect();
        iw_core::write_file_atomically(&out.join("table.md"), table_md.join("\n").as_bytes())?;
        iw_core::write_file_atomically(&out.join("table.csv"), format_csv(&all_rows).as_bytes())?;
        for t in &self.tables {
            write_froc_figures(&t.rows, out)?;
        }
        Ok(())
    }

    /// Per seed: each experiment folder on its own, under each rule (in the tables' order).
    fn analyses(&self) -> anyhow::Result<Vec<Analysis>> {
        self.tables
            .iter()
            .map(|t| {
                let o = EvalOptions { rule: t.rule, ..self.opts.clone() };
                let per_seed = iw_metrics::comparison::per_seed(&self.all, &o)?;
                Ok(Analysis {
                    summary: iw_report::OperatingSummary::new(
                        &self.all,
                        self.small_below(),
                        t.rule,
                        &crate::evaluation::dice_of,
                    )?,
                    science: iw_metrics::comparison::iw_vs_base_table(&per_seed),
                    seeds_table: iw_metrics::comparison::per_seed_table(&per_seed),
                })
            })
            .collect()
    }

    /// report.json.
    fn report_json(&self, plan: &ReproducePlan, unfinished: &[(String, RunState)]) -> serde_json::Value {
        let mut by_rule = serde_json::Map::new();
        for t in &self.tables {
            let mut entry = t.summary.clone();
            if let Some(o) = entry.as_object_mut() {
                o.insert("describe".into(), t.rule.describe().into());
                o.insert("table".into(), iw_metrics::to_json(&t.rows));
            }
            by_rule.insert(t.rule.to_string(), entry);
        }
        serde_json::json!({
            "dataset": plan.dataset.key(),
            "scale": plan.scale,
            "synthetic": self.synthetic_info.is_some(),
            "small_below_voxels": self.small_below(),
            "seeds": plan.seeds,
            "configurations": plan.configurations,
            "units": "a unit is one test case of one seed's run; pooled numbers pool the units of every seed",
            "bootstrap": {"samples": iw_metrics::operating::BOOTSTRAP_SAMPLES, "seed": iw_metrics::operating::BOOTSTRAP_SEED, "interval": "2.5th-97.5th percentile of the paired differences"},
            "rules": by_rule,
            "complete": unfinished.is_empty(),
            "unfinished_runs": unfinished.iter().map(|(n, s)| serde_json::json!({"run": n, "state": s.word(), "error": match s { RunState::Failed(e) => Some(e.clone()), _ => None }})).collect::<Vec<_>>(),
        })
    }

    /// What the runs' run.json say of how they were made: their compute time (this call may have
    /// skipped finished stages), the span from the first stage's start to the last one's end
    /// (runs may overlap), and the builds that made them.
    fn runs_made(&self) -> anyhow::Result<RunsMade> {
        let mut compute_s = 0.0;
        let (mut first, mut last) = (f64::INFINITY, 0f64);
        let mut revisions = std::collections::BTreeMap::<String, usize>::new();
        for m in &self.all {
            for f in &m.files {
                if let Some(run) = f.parent().and_then(|p| p.parent()) {
                    if let Some(r) = iw_run::RunRecord::read_in(run)? {
                        *revisions.entry(r.git_revision.clone()).or_default() += 1;
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
        Ok(RunsMade {
            compute_min: compute_s / 60.0,
            span,
            builds: revisions.iter().map(|(rev, n)| format!("git {rev} ({n} run(s))")).collect::<Vec<_>>().join(", "),
        })
    }
}

/// How the runs of a report were made (their run.json).
struct RunsMade {
    /// Compute time, the sum of the runs' stages, minutes.
    compute_min: f64,
    /// ", X min from the first run's start to the last one's end" (empty without times).
    span: String,
    /// The builds that made them, "git <rev> (<n> run(s)), ...", which may differ from the
    /// report's own build.
    builds: String,
}

impl RunsMade {
    /// "iw <version> (this report: git <rev>, runs made by ...), libtorch <version>".
    fn versions(&self) -> String {
        let made_by = if self.builds.is_empty() { String::new() } else { format!(", runs made by {}", self.builds) };
        format!(
            "iw {} (this report: git {}{made_by}), libtorch {}",
            env!("CARGO_PKG_VERSION"),
            env!("IW_GIT_REVISION"),
            env!("IW_TORCH_VERSION")
        )
    }
}

/// Step 4: what README.md and report.html say.
struct Page<'a> {
    plan: &'a ReproducePlan,
    data: &'a Data,
    /// The prepared data are synthetic (their dataset.json says so).
    synthetic: bool,
    runs: &'a Path,
    /// This command's runs.
    total_runs: usize,
    unfinished: &'a [(String, RunState)],
    results: &'a Results,
    runs_made: RunsMade,
}

impl Page<'_> {
    /// The line at the top of a partial report.
    fn partial(&self) -> Option<String> {
        let u = self.unfinished;
        (!u.is_empty()).then(|| {
            format!(
                "PARTIAL REPORT: {} of {} runs did not finish ({}); their numbers are missing below. Rerun the command (or `iw grid status {}`) and report again.",
                u.len(),
                self.total_runs,
                u.iter().map(|(n, s)| format!("{n}: {}", s.word())).collect::<Vec<_>>().join(", "),
                self.runs.display()
            )
        })
    }

    /// README.md: the data, scale, versions and runs, the runs that did not finish, each rule's
    /// tables, the scale's findings and the first run's resolved configuration.
    fn readme(&self, analyses: &[Analysis], example_cfg: &str) -> anyhow::Result<String> {
        let (plan, results) = (self.plan, self.results);
        let (key, scale, seeds) = (plan.dataset.key(), &plan.scale, plan.seeds);
        let title = plan.dataset.info().title;
        let overlay = plan.overlays();
        let mut readme = String::new();
        if let Some(p) = &self.partial() {
            let _ = writeln!(readme, "**{p}**\n");
        }
        let _ = writeln!(readme, "# {}\n", plan.title(self.synthetic));
        if self.synthetic {
            let _ = writeln!(readme, "**These numbers come from synthetic data, not from {title}.** They check the pipeline and the method's behaviour on {title}-like phantoms; they are not comparable to the paper's table.\n");
        }
        let _ = writeln!(readme, "- Data: {}.", self.data.note);
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
            plan.configurations.join(", ")
        );
        let _ = writeln!(
            readme,
            "- Small lesions: diameter below {} voxels{}.",
            results.opts.small_below.map_or("-".to_string(), |v| format!("{v:.2}")),
            if results.small_equivalent.is_some() {
                format!(
                    " (the paper's {} voxels at the phantom's resolution: synthetic.json's small_below_equivalent)",
                    plan.dataset.info().small_below
                )
            } else {
                String::new()
            }
        );
        let made = &self.runs_made;
        let _ = writeln!(
            readme,
            "- Versions: {}; compute time of the runs {:.1} min (train + predict + evaluate, from their run.json){}; command `{}`.",
            made.versions(),
            made.compute_min,
            made.span,
            plan.command_line()
        );
        let _ = writeln!(
            readme,
            "- Runs: `{}` (each with config.yaml, run.json, train_log.csv, train_curve.png, predictions and records).\n",
            self.runs.display()
        );
        if !self.unfinished.is_empty() {
            let _ = writeln!(
                readme,
                "## Runs that did not finish ({} of {}; not in the numbers below)\n\n| run | state | error |\n|---|---|---|",
                self.unfinished.len(),
                self.total_runs
            );
            for (n, st) in self.unfinished {
                let e = if let RunState::Failed(e) = st { e.replace('|', "\\|") } else { String::new() };
                let _ = writeln!(readme, "| {n} | {} | {e} |", st.word());
            }
            readme.push('\n');
        }
        for (t, a) in results.tables.iter().zip(analyses) {
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
        if let Ok(findings) = std::fs::read_to_string(plan.experiments().join(format!("FINDINGS-{scale}.md"))) {
            let _ = writeln!(readme, "{findings}");
        }
        let _ = writeln!(readme, "## Resolved configuration (first run)\n\n```yaml\n{example_cfg}```");
        Ok(readme)
    }

    /// report.html.
    fn write_html(&self) -> anyhow::Result<()> {
        let plan = self.plan;
        crate::evaluation::write_html(
            &plan.out,
            &crate::evaluation::HtmlPage {
                title: plan.title(self.synthetic),
                notes: self
                    .partial()
                    .into_iter()
                    .chain([
                        format!("Data: {}.", self.data.note),
                        format!(
                            "Scale: {}; {} seed(s) per configuration; runs in {}.",
                            plan.scale,
                            plan.seeds,
                            self.runs.display()
                        ),
                        format!("Small lesions: diameter below {:.2} voxels.", self.results.small_below()),
                        format!("{}; command `{}`.", self.runs_made.versions(), plan.command_line()),
                    ])
                    .collect(),
                rules: &self.results.tables,
                methods: &self.results.all,
                // results/<dataset>/report.html is committed: at most 2 MB, the gallery keeping
                // the tiles that fit (`iw report RUNS --html` writes every tile for local viewing).
                max_bytes: Some(REPORT_HTML_BYTES),
            },
        )?;
        Ok(())
    }
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

/// The bytes of `iw reproduce`'s report.html, a page committed under results/ (the gallery keeps
/// the tiles that fit).
const REPORT_HTML_BYTES: usize = 2_000_000;

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

/// `v` with `decimals` decimals, "n/a" when it is not finite; -0.0 (an empty float sum in
/// Rust) prints as 0.
fn fixed(v: f64, decimals: usize) -> String {
    if v.is_finite() {
        format!("{:.decimals$}", v + 0.0)
    } else {
        "n/a".into()
    }
}

fn f1(v: f64) -> String {
    fixed(v, 1)
}

fn f2(v: f64) -> String {
    fixed(v, 2)
}

fn f3(v: f64) -> String {
    fixed(v, 3)
}
