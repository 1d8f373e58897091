//! `iw records` and `iw report`: lesion-wise evaluation over `iw-metrics`.
use anyhow::{bail, Context};
use iw_core::DynVolume;
use iw_io::read_volume;
use iw_metrics::{
    evaluate_case, evaluate_method, format_csv, format_table, load_records_dir, read_records, to_json,
    write_froc_figures, write_records, BootstrapMode, CaseRecords, EvalOptions, MatchRule, MethodRecords, Row,
};
use iw_run::{Experiment, RunDir};
use std::path::{Path, PathBuf};

/// The trailing number of a file name (`segmentation-12.nii.gz` -> `12`), else its stem.
fn default_case_id(path: &Path) -> String {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let stem = name.split('.').next().unwrap_or(&name).to_string();
    let digits: String =
        stem.chars().rev().take_while(|c| c.is_ascii_digit()).collect::<Vec<_>>().into_iter().rev().collect();
    if digits.is_empty() {
        stem
    } else {
        digits
            .trim_start_matches('0')
            .to_string()
            .chars()
            .next()
            .map_or("0".into(), |_| digits.trim_start_matches('0').to_string())
    }
}

fn check_same_grid(a: &DynVolume, b: &DynVolume, an: &Path, bn: &Path) -> anyhow::Result<()> {
    if a.shape_zyx() != b.shape_zyx() {
        let ([az, ay, ax], [bz, by, bx]) = (a.shape_zyx(), b.shape_zyx());
        bail!(
            "{} is {ax} x {ay} x {az} but {} is {bx} x {by} x {bz} (x, y, z): shapes must match",
            an.display(),
            bn.display()
        );
    }
    let (ga, gb) = (a.geometry(), b.geometry());
    let off = (0..3).any(|i| {
        (ga.spacing_xyz_mm[i] - gb.spacing_xyz_mm[i]).abs() > 1e-3 * ga.spacing_xyz_mm[i]
            || (ga.origin_xyz_mm[i] - gb.origin_xyz_mm[i]).abs() > 1e-2 * ga.spacing_xyz_mm[i].max(1.0)
    });
    if off {
        bail!(
            "{} and {} are on different grids (spacing {:?} vs {:?}, origin {:?} vs {:?}, x, y, z mm): resample the prediction first",
            an.display(),
            bn.display(),
            ga.spacing_xyz_mm,
            gb.spacing_xyz_mm,
            ga.origin_xyz_mm,
            gb.origin_xyz_mm
        );
    }
    Ok(())
}

/// `iw records GT PROB [LOGIT] --out FILE`.
pub fn records(
    gt: &Path,
    prob: &Path,
    logit: Option<&Path>,
    out: &Path,
    case_id: Option<String>,
    append: bool,
) -> anyhow::Result<()> {
    let inputs: Vec<&Path> = [Some(gt), Some(prob), logit].into_iter().flatten().collect();
    iw_run::outputs::output_path(out, &inputs, None)?;
    let g = read_volume(gt)?;
    iw_run::outputs::check_finite_mask(&g, gt)?;
    let p = read_volume(prob)?;
    check_same_grid(&g, &p, gt, prob)?;
    let l = match logit {
        Some(path) => {
            let l = read_volume(path)?;
            check_same_grid(&p, &l, prob, path)?;
            Some(l.to_f32())
        }
        None => None,
    };
    let (gf, pf) = (g.to_f32(), p.to_f32());
    let mut eval = evaluate_case(gf.data.view(), pf.data.view(), l.as_ref().map(|v| v.data.view()))?;
    eval.set_voxel_volume(g.geometry().spacing_xyz_mm.iter().product());
    let id = case_id.unwrap_or_else(|| default_case_id(gt));
    let mut all = if append && out.exists() { read_records(out)? } else { CaseRecords::new() };
    let (n_gt, n_pred) =
        (eval.records.iter().filter(|r| r.is_tum).count(), eval.records.iter().filter(|r| !r.is_tum).count());
    let hits = eval.records.iter().filter(|r| r.is_tum && r.hit_dice > 0.0).count();
    all.insert(id.clone(), eval.records);
    write_records(out, &all).with_context(|| format!("writing {}", out.display()))?;
    println!(
        "case {id}: {n_gt} lesions ({hits} hit at p > 0.5), {n_pred} predicted components, voxel Dice {:.4}; wrote {}",
        eval.dice,
        out.display()
    );
    Ok(())
}

/// The dataset's own small-lesion threshold for the runs of `methods` ([`iw_run::RecordsMeta`]:
/// the prepared data's `synthetic.json` `small_below_equivalent`, as `iw reproduce` stratifies);
/// `None`: the dataset's default (`iw_core::datasets`).
pub fn dataset_small_below(methods: &[MethodRecords]) -> anyhow::Result<Option<f64>> {
    let files: Vec<std::path::PathBuf> = methods.iter().flat_map(|m| m.files.iter().cloned()).collect();
    iw_run::dataset_small_below(&files)
}

/// The gallery's view of a run: its records and the probabilities of their cases.
fn gallery_run(method: &str, dir: &RunDir) -> anyhow::Result<iw_report::gallery::GalleryRun> {
    let records = dir.records();
    let probabilities = read_records(&records)?
        .into_keys()
        .map(|id| {
            let p = dir.prediction(&id, iw_run::Prediction::Prob);
            (id, p)
        })
        .collect();
    Ok(iw_report::gallery::GalleryRun {
        method: method.to_string(),
        dir: dir.path().to_path_buf(),
        records,
        probabilities,
    })
}

/// The dice.json beside a records file ([`iw_report::OperatingSummary::new`]).
pub fn dice_of(records: &Path) -> Option<PathBuf> {
    RunDir::of_records(records).map(|d| d.dice())
}

/// The tables of one matching rule: the paper's table and report.json's entry of the rule.
pub struct RuleTables {
    /// The rule.
    pub rule: MatchRule,
    /// The paper's table under it.
    pub rows: Vec<Row>,
    /// `pooled`, `per_seed` and `iw_minus_base` ([`iw_report::OperatingSummary::to_json`]).
    pub summary: serde_json::Value,
}

/// The rules a report shows by default: the paper's, then one to one at IoU >= 0.1.
pub const REPORT_RULES: [MatchRule; 2] = [MatchRule::Overlap, MatchRule::Iou(MatchRule::DEFAULT_IOU)];

/// The paper's table and the operating points of `methods` under each rule.
pub fn rule_tables(
    methods: &[MethodRecords],
    opts: &EvalOptions,
    rules: &[MatchRule],
) -> anyhow::Result<Vec<RuleTables>> {
    rules
        .iter()
        .map(|&rule| {
            let o = EvalOptions { rule, ..opts.clone() };
            let rows = methods.iter().map(|m| evaluate_method(m, &o)).collect::<Result<Vec<_>, _>>()?;
            let small = rows.first().map_or(f64::NAN, |r| r.small_below);
            let summary = iw_report::OperatingSummary::new(methods, small, rule, &dice_of)?.to_json();
            Ok(RuleTables { rule, rows, summary })
        })
        .collect()
}

/// What report.html says above its tables.
pub struct HtmlPage<'a> {
    /// Title.
    pub title: String,
    /// Lines under it.
    pub notes: Vec<String>,
    /// The tables of each rule, the paper's first.
    pub rules: &'a [RuleTables],
    /// The records of every configuration (their run folders hold the curves and predictions).
    pub methods: &'a [MethodRecords],
    /// A bound on report.html's bytes (a page committed to a repository): the gallery keeps the
    /// tiles that fit; `None`: every tile.
    pub max_bytes: Option<usize>,
}

/// Writes `out/report.html`: the tables, FROC, forest plot, training curves and the lesion
/// gallery of the first run (experiment folder) of every configuration.
pub fn write_html(out: &Path, page: &HtmlPage<'_>) -> anyhow::Result<PathBuf> {
    let mut runs = Vec::new();
    let mut gallery_runs = Vec::new();
    let mut gallery_dirs = Vec::new();
    for m in page.methods {
        let mut dirs: Vec<RunDir> = m.files.iter().filter_map(|f| RunDir::of_records(f)).collect();
        dirs.sort();
        for d in &dirs {
            runs.push(iw_report::RunCurves {
                method: m.method.clone(),
                dir: d.path().to_path_buf(),
                train_log: d.train_log(),
                validation_log: d.validation_log(),
            });
        }
        if let Some(d) = dirs.first() {
            gallery_dirs.push(d.clone());
            gallery_runs.push(gallery_run(&m.method, d)?);
        }
    }
    let (mut gallery, mut gallery_note) = (None, None);
    match gallery_dirs.first().map(|d| d.config()).filter(|c| c.is_file()) {
        Some(cfg) => {
            let exp = Experiment::load_with(&cfg, &[], &[])?;
            if exp.dataset.prepared.join("cases").is_dir() {
                gallery = Some(iw_report::gallery::GallerySource {
                    prepared: exp.dataset.prepared.clone(),
                    window: exp.dataset.window,
                    runs: gallery_runs,
                    small_below: page.rules.first().and_then(|r| r.rows.first()).map_or(f64::NAN, |r| r.small_below),
                    max_lesions: 400,
                    max_false_positives: 6,
                });
            } else {
                gallery_note = Some(format!(
                    "the prepared dataset {} is not here (run from the repository root)",
                    exp.dataset.prepared.display()
                ));
            }
        }
        None => gallery_note = Some("the runs have no config.yaml (records only)".into()),
    }
    if let Some(note) = &gallery_note {
        eprintln!("report.html: no lesion gallery: {note}");
    }
    let synthetic = gallery.as_ref().is_some_and(|g| g.prepared.join("synthetic.json").is_file());
    let input = iw_report::ReportInput {
        title: page.title.clone(),
        notes: page.notes.clone(),
        synthetic,
        rules: page
            .rules
            .iter()
            .map(|r| iw_report::RuleReport { rule: r.rule, rows: &r.rows, summary: Some(&r.summary) })
            .collect(),
        runs,
        gallery,
        gallery_note,
        max_bytes: page.max_bytes,
    };
    let path = out.join("report.html");
    let w = iw_report::write_report(&path, &input)?;
    if let Some(max) = page.max_bytes.filter(|&m| w.bytes > m) {
        eprintln!("{}: {} bytes without any lesion tile, over the budget of {max}", path.display(), w.bytes);
    }
    println!(
        "wrote {} ({:.1} MB, {} lesion tiles, {} false-positive tiles)",
        path.display(),
        w.bytes as f64 / 1e6,
        w.lesion_tiles,
        w.false_positive_tiles
    );
    Ok(path)
}

/// `iw report --html`: the page's options.
#[derive(Debug, Clone, Copy, Default)]
pub struct Html {
    /// report.html's budget in bytes: the gallery keeps the thumbnails that fit (None: every
    /// thumbnail).
    pub max_bytes: Option<usize>,
}

/// `iw report DIR`.
pub fn report(
    dir: &Path,
    json: bool,
    out: Option<&Path>,
    small_below: Option<f64>,
    bootstrap_fix: bool,
    html: Option<Html>,
    rules: &[MatchRule],
) -> anyhow::Result<()> {
    if let Some(s) = small_below {
        if !(s.is_finite() && s > 0.0) {
            bail!("--small-below must be a positive number of voxels, not {s}");
        }
    }
    let methods = load_records_dir(dir, &RunDir::records_in_run())?;
    // One definition of small: the dataset's (as `iw reproduce` reads it) unless given.
    let small_below = match small_below {
        Some(s) => Some(s),
        None => dataset_small_below(&methods)?,
    };
    let opts = EvalOptions {
        small_below,
        bootstrap: if bootstrap_fix { BootstrapMode::Corrected } else { BootstrapMode::Paper },
        ..EvalOptions::default()
    };
    // The tables: the rules asked for (default: the paper's); the page: those, or both.
    let table_rules: &[MatchRule] = if rules.is_empty() { &REPORT_RULES[..1] } else { rules };
    let mut rows: Vec<Row> = Vec::new();
    for &rule in table_rules {
        let o = EvalOptions { rule, ..opts.clone() };
        rows.extend(methods.iter().map(|m| evaluate_method(m, &o)).collect::<Result<Vec<_>, _>>()?);
    }
    let by_rule = |rule: MatchRule| rows.iter().filter(|r| r.rule == rule).cloned().collect::<Vec<Row>>();
    if json {
        println!("{}", serde_json::to_string_pretty(&to_json(&rows))?);
    } else {
        for &rule in table_rules {
            print!("{}", format_table(&by_rule(rule)));
        }
    }
    if let Some(out) = out {
        iw_run::outputs::output_path(out, &[], None)?;
        if out.is_file() {
            bail!("{}: --out is a file, not a folder", out.display());
        }
        std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
        let md: String = table_rules.iter().map(|&r| format_table(&by_rule(r))).collect::<Vec<_>>().join("\n");
        for (name, text) in [("table.md", md), ("table.csv", format_csv(&rows))] {
            iw_core::write_file_atomically(&out.join(name), text.as_bytes())?;
        }
        let mut figs = Vec::new();
        for &rule in table_rules {
            figs.extend(write_froc_figures(&by_rule(rule), out)?);
        }
        if !json {
            println!("wrote {} and {} figures to {}", ["table.md", "table.csv"].join(", "), figs.len(), out.display());
        }
    }
    if let Some(html) = html {
        let out = out.unwrap_or(dir);
        std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
        let page_rules: Vec<MatchRule> = if rules.is_empty() {
            // Both rules, unless the records predate the extents the one-to-one rule needs.
            let old = methods.iter().flat_map(|m| m.cases.values().flatten()).any(|r| r.extent.is_none());
            if old {
                eprintln!("report.html: the paper's rule only: these records have no component sizes and overlaps (made before iw recorded them; rerun `iw evaluate` for the one-to-one rule)");
                REPORT_RULES[..1].to_vec()
            } else {
                REPORT_RULES.to_vec()
            }
        } else {
            rules.to_vec()
        };
        let mut datasets: Vec<&str> = methods.iter().map(|m| m.dataset.as_str()).collect();
        datasets.dedup();
        // One page per dataset (report.html; report-<dataset>.html when the folder has several).
        for dataset in &datasets {
            let methods: Vec<MethodRecords> = methods.iter().filter(|m| m.dataset == *dataset).cloned().collect();
            let page_dir = if datasets.len() > 1 { out.join(format!("report-{dataset}")) } else { out.to_path_buf() };
            html_page(dir, &page_dir, &methods, &opts, &page_rules, html)?;
        }
    }
    Ok(())
}

/// One dataset's report.html for `iw report --html` (operating points computed here, as
/// `iw reproduce` computes its report.json).
fn html_page(
    dir: &Path,
    out: &Path,
    methods: &[MethodRecords],
    opts: &EvalOptions,
    rules: &[MatchRule],
    html: Html,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let tables = rule_tables(methods, opts, rules)?;
    let rows: &[Row] = tables.first().map_or(&[], |t| &t.rows);
    let threshold = rows.first().map_or(f64::NAN, |r| r.small_below);
    let dataset = rows.first().map_or("?".to_string(), |r| r.dataset.clone());
    let folders: usize = methods.iter().map(|m| m.files.len()).sum();
    let page = HtmlPage {
        title: format!("{dataset}: {} configuration(s) from {}", rows.len(), dir.display()),
        notes: vec![
            format!("Runs: {} ({folders} run folder(s)).", dir.display()),
            format!("Small lesions: diameter below {threshold:.2} voxels."),
            format!("iw {} (git {}).", env!("CARGO_PKG_VERSION"), env!("IW_GIT_REVISION")),
        ],
        rules: &tables,
        methods,
        max_bytes: html.max_bytes,
    };
    write_html(out, &page)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::default_case_id;
    use std::path::Path;

    #[test]
    fn case_ids_from_file_names() {
        assert_eq!(default_case_id(Path::new("/d/segmentation-12.nii.gz")), "12");
        assert_eq!(default_case_id(Path::new("segmentation-0.nii")), "0");
        assert_eq!(default_case_id(Path::new("case_007.nii.gz")), "7");
        assert_eq!(default_case_id(Path::new("mask.nii.gz")), "mask");
    }
}
