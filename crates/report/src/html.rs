//! report.html: one self-contained page (inline CSS, SVG, PNG data URIs and a small script, all
//! shipped in the binary), rendered with minijinja from the same rows and report.json as the
//! Markdown tables.
use crate::charts::{Chart, Frame};
use crate::error::{Error, Result};
use crate::gallery::{Gallery, GallerySource};
use iw_metrics::{base_loss, BootstrapMode, MatchRule, Row};
use serde::Serialize;
use serde_json::Value;
use std::path::{Path, PathBuf};

const TEMPLATE: &str = include_str!("../templates/report.html");
const SCRIPT: &str = include_str!("../templates/report.js");
const GUARD: &str = include_str!("../templates/guard.js");
const STYLE: &str = include_str!("../templates/report.css");

/// One training run whose curves are shown.
#[derive(Debug, Clone)]
pub struct RunCurves {
    /// Configuration.
    pub method: String,
    /// Its run folder: its name labels the chart.
    pub dir: PathBuf,
    /// Its training log (train_log.csv: columns `step`, `loss`).
    pub train_log: PathBuf,
    /// Its validation log (validation_log.csv: `step`, `loss`, `dice`, `volume_dice`; may be
    /// absent).
    pub validation_log: PathBuf,
}

/// What the report shows.
#[derive(Debug, Clone)]
pub struct ReportInput<'a> {
    /// Page title.
    pub title: String,
    /// Lines under the title (data, scale, threshold, versions).
    pub notes: Vec<String>,
    /// Whether the data are synthetic (said loudly).
    pub synthetic: bool,
    /// The tables of each matching rule, in the order shown (the paper's first).
    pub rules: Vec<RuleReport<'a>>,
    /// Training runs.
    pub runs: Vec<RunCurves>,
    /// The gallery's source (`None`: no gallery, with `gallery_note` saying why).
    pub gallery: Option<GallerySource>,
    /// Why there is no gallery.
    pub gallery_note: Option<String>,
    /// At most this many bytes of report.html (a page committed to a repository): the gallery
    /// keeps the tiles that fit, in order (lesions smallest first, then false positives largest
    /// first); a page over it without any tile is written without tiles. `None`: every tile (a
    /// page for local viewing).
    pub max_bytes: Option<usize>,
}

/// The numbers of one matching rule.
#[derive(Debug, Clone)]
pub struct RuleReport<'a> {
    /// The rule.
    pub rule: MatchRule,
    /// The paper's table under it.
    pub rows: &'a [Row],
    /// One entry of report.json's `rules` (`pooled`, `iw_minus_base`), as `iw reproduce` writes
    /// it or [`crate::operating_summary`] computes it.
    pub summary: Option<&'a Value>,
}

/// A table cell: the text shown and the number it sorts by.
#[derive(Debug, Clone, Serialize)]
struct Cell {
    text: String,
    v: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
struct Table {
    id: String,
    headers: Vec<String>,
    rows: Vec<Vec<Cell>>,
}

fn text(s: impl Into<String>) -> Cell {
    Cell { text: s.into(), v: None }
}

fn num(v: f64, decimals: usize) -> Cell {
    if v.is_finite() {
        // + 0.0: -0.0 (an empty float sum in Rust) prints as 0.
        Cell { text: format!("{:.decimals$}", v + 0.0), v: Some(v) }
    } else {
        Cell { text: "n/a".into(), v: None }
    }
}

fn pm(v: (f64, f64)) -> Cell {
    if v.0.is_finite() {
        Cell { text: format!("{:.2} ± {:.2}", v.0, v.1), v: Some(v.0) }
    } else {
        Cell { text: "n/a".into(), v: None }
    }
}

fn count(n: usize) -> Cell {
    Cell { text: n.to_string(), v: Some(n as f64) }
}

/// The colour of a configuration: a pair of shades per base loss (light without iw, dark with).
pub fn colour(method: &str) -> String {
    const PAIRS: [(&str, &str); 8] = [
        ("#1f77b4", "#aec7e8"),
        ("#ff7f0e", "#ffbb78"),
        ("#2ca02c", "#98df8a"),
        ("#d62728", "#ff9896"),
        ("#9467bd", "#c5b0d5"),
        ("#8c564b", "#c49c94"),
        ("#e377c2", "#f7b6d2"),
        ("#17becf", "#9edae5"),
    ];
    const KNOWN: [&str; 8] = ["bce", "dl", "fl", "asl", "wce", "gdl", "blob", "cc"];
    let (base, iw) = base_loss(method);
    let base = base.split('-').next().unwrap_or(base);
    let i = KNOWN.iter().position(|k| *k == base).unwrap_or_else(|| {
        let h = method.bytes().fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(b as u32));
        h as usize % PAIRS.len()
    });
    if iw { PAIRS[i].0 } else { PAIRS[i].1 }.to_string()
}

fn paper_table(rows: &[Row], slug: &str) -> Table {
    let headers = [
        "dataset",
        "method",
        "cases",
        "lesions",
        "object Dice",
        "avg recall (FP 0..5)",
        "CPM",
        "small: lesions",
        "small: avg recall",
        "small: CPM",
        "large: lesions",
        "large: avg recall",
        "large: CPM",
    ];
    Table {
        id: format!("paper-{slug}"),
        headers: headers.iter().map(|s| s.to_string()).collect(),
        rows: rows
            .iter()
            .map(|r| {
                vec![
                    text(&r.dataset),
                    text(&r.method),
                    count(r.all.cases),
                    count(r.all.lesions),
                    pm(r.object_dice),
                    pm(r.all.avg_recall),
                    pm(r.all.cpm),
                    count(r.small.lesions),
                    pm(r.small.avg_recall),
                    pm(r.small.cpm),
                    count(r.large.lesions),
                    pm(r.large.avg_recall),
                    pm(r.large.cpm),
                ]
            })
            .collect(),
    }
}

fn jf(v: &Value, path: &[&str]) -> f64 {
    let mut v = v;
    for p in path {
        v = &v[*p];
    }
    v.as_f64().unwrap_or(f64::NAN)
}

fn operating_table(summary: &Value, slug: &str) -> Option<Table> {
    let pooled = summary.get("pooled")?.as_object()?;
    let mut headers = vec!["method".to_string(), "units".into(), "voxel Dice".into(), "FP / case (p > 0.5)".into()];
    headers.push("predicted / true volume".into());
    for s in ["small", "large"] {
        for h in ["lesions", "recall p > 0.5", "recall at 1 FP/case", "object Dice"] {
            headers.push(format!("{s}: {h}"));
        }
    }
    headers.push("largest / true volume".into());
    headers.push("FP volume mm³ / case".into());
    let rows = pooled
        .iter()
        .map(|(m, p)| {
            let mut r = vec![text(m), num(jf(p, &["units"]), 0), num(jf(p, &["voxel_dice"]), 3)];
            r.push(num(jf(p, &["all", "fp_per_case"]), 2));
            r.push(num(jf(p, &["all", "volume_ratio"]), 2));
            for s in ["small", "large"] {
                r.push(num(jf(p, &[s, "lesions"]), 0));
                r.push(num(jf(p, &[s, "recall_p05"]), 3));
                r.push(num(jf(p, &[s, "recall_1fp"]), 3));
                r.push(num(jf(p, &[s, "object_dice"]), 3));
            }
            r.push(num(jf(p, &["largest_over_true"]), 2));
            r.push(num(jf(p, &["fp_mm3_per_case"]), 1));
            r
        })
        .collect();
    Some(Table { id: format!("operating-{slug}"), headers, rows })
}

/// The iw-minus-base metrics (key in report.json, stratum, label), in the order both renderings
/// (README.md's table and report.html's forest plot) show them.
pub const DIFF_METRICS: [(&str, &str, &str); 10] = [
    ("recall_p05", "small", "small: recall p > 0.5"),
    ("recall_1fp", "small", "small: recall at 1 FP/case"),
    ("object_dice", "small", "small: object Dice"),
    ("recall_p05", "large", "large: recall p > 0.5"),
    ("recall_1fp", "large", "large: recall at 1 FP/case"),
    ("object_dice", "large", "large: object Dice"),
    ("recall_1fp", "all", "all: recall at 1 FP/case"),
    ("fp_per_case", "all", "FP / case (p > 0.5)"),
    ("volume_ratio", "all", "predicted / true volume"),
    ("voxel_dice", "all", "voxel Dice"),
];

fn differences_table(summary: &Value, slug: &str) -> Option<Table> {
    let d = summary.get("iw_minus_base")?.as_object()?;
    let headers = ["pair", "metric", "base", "iw", "iw − base", "95 % low", "95 % high"].map(String::from).to_vec();
    let mut rows = Vec::new();
    for (pair, list) in d {
        for (metric, stratum, label) in DIFF_METRICS {
            let Some(x) = list.as_array()?.iter().find(|x| x["metric"] == metric && x["stratum"] == stratum) else {
                continue;
            };
            rows.push(vec![
                text(pair),
                text(label),
                num(jf(x, &["base"]), 3),
                num(jf(x, &["iw"]), 3),
                num(jf(x, &["diff"]), 3),
                num(x["ci95"][0].as_f64().unwrap_or(f64::NAN), 3),
                num(x["ci95"][1].as_f64().unwrap_or(f64::NAN), 3),
            ]);
        }
    }
    Some(Table { id: format!("differences-{slug}"), headers, rows })
}

/// A forest plot: one panel per metric, one interval per pair.
#[derive(Debug, Clone, Serialize)]
struct ForestPanel {
    label: String,
    w: f64,
    h: f64,
    zero: f64,
    ticks: Vec<crate::charts::Tick>,
    items: Vec<ForestItem>,
}

#[derive(Debug, Clone, Serialize)]
struct ForestItem {
    pair: String,
    y: f64,
    lo: f64,
    hi: f64,
    mid: f64,
    colour: String,
    title: String,
}

fn forest(summary: &Value) -> Vec<ForestPanel> {
    let Some(d) = summary.get("iw_minus_base").and_then(|v| v.as_object()) else { return vec![] };
    let mut panels = Vec::new();
    for (metric, stratum, label) in DIFF_METRICS {
        let mut found = Vec::new();
        for (pair, list) in d {
            let Some(x) =
                list.as_array().and_then(|l| l.iter().find(|x| x["metric"] == metric && x["stratum"] == stratum))
            else {
                continue;
            };
            let (diff, lo, hi) = (jf(x, &["diff"]), x["ci95"][0].as_f64(), x["ci95"][1].as_f64());
            if let (true, Some(lo), Some(hi)) = (diff.is_finite(), lo, hi) {
                found.push((pair.clone(), diff, lo, hi, jf(x, &["base"]), jf(x, &["iw"])));
            }
        }
        if found.is_empty() {
            continue;
        }
        let m = found.iter().map(|f| f.2.abs().max(f.3.abs()).max(f.1.abs())).fold(1e-3, f64::max) * 1.1;
        let (w, left, right, row) = (420.0, 110.0, 400.0, 22.0);
        let px = |v: f64| ((left + (v + m) / (2.0 * m) * (right - left)) * 10.0).round() / 10.0;
        let h = 44.0 + row * found.len() as f64;
        // Enough decimals that the ticks differ (a tiny range when every difference is 0).
        let decimals = ((-(m / 2.0).log10()).floor() as i64 + 1).clamp(0, 4) as usize;
        let ticks = crate::charts::nice_ticks(-m, m, 4)
            .into_iter()
            .map(|v| crate::charts::Tick { at: px(v), label: format!("{v:+.decimals$}") })
            .collect();
        let items = found
            .iter()
            .enumerate()
            .map(|(i, (pair, diff, lo, hi, b, iw))| ForestItem {
                pair: pair.clone(),
                y: 30.0 + row * i as f64,
                lo: px(*lo),
                hi: px(*hi),
                mid: px(*diff),
                colour: colour(pair.split(" - ").next().unwrap_or(pair)),
                title: format!("{pair}, {label}: base {b:.3} → iw {iw:.3}, difference {diff:+.3} [{lo:+.3}, {hi:+.3}]"),
            })
            .collect();
        panels.push(ForestPanel { label: label.into(), w, h, zero: px(0.0), ticks, items });
    }
    panels
}

fn froc_charts(rows: &[Row]) -> Vec<Chart> {
    let mut out = Vec::new();
    for (name, pick) in [
        ("all lesions", (|r: &Row| &r.all) as fn(&Row) -> &iw_metrics::StratumResult),
        ("small lesions", |r: &Row| &r.small),
        ("large lesions", |r: &Row| &r.large),
    ] {
        let threshold = rows.first().map(|r| r.small_below).unwrap_or(f64::NAN);
        let title = match name {
            "small lesions" => format!("small lesions (diameter < {threshold:.2} voxels)"),
            "large lesions" => format!("large lesions (diameter ≥ {threshold:.2} voxels)"),
            _ => name.to_string(),
        };
        let mut f =
            Frame::new(&title, 420.0, 300.0, [0.0, 6.0], [0.0, 1.0], ["average false positives per case", "recall"]);
        for r in rows {
            let s = pick(r);
            let xy: Vec<(f64, f64)> = s.curve_fp.iter().copied().zip(s.curve_mean.iter().copied()).collect();
            let marks = (0..xy.len())
                .filter(|i| i % 10 == 0)
                .map(|i| {
                    (
                        i,
                        format!(
                            "{}: recall {:.3} ± {:.3} at {:.1} FP/case ({} lesions)",
                            r.method, s.curve_mean[i], s.curve_std[i], s.curve_fp[i], s.lesions
                        ),
                    )
                })
                .collect();
            f.line(&r.method, &colour(&r.method), !base_loss(&r.method).1, &xy, marks);
        }
        out.push(f.finish());
    }
    out
}

fn read_csv(path: &Path) -> Option<(Vec<String>, Vec<Vec<f64>>)> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut lines = text.lines();
    let header: Vec<String> = lines.next()?.split(',').map(String::from).collect();
    let rows = lines.map(|l| l.split(',').map(|v| v.parse().unwrap_or(f64::NAN)).collect()).collect();
    Some((header, rows))
}

fn column(h: &[String], rows: &[Vec<f64>], name: &str) -> Vec<f64> {
    let i = h.iter().position(|c| c == name);
    rows.iter().map(|r| i.and_then(|i| r.get(i).copied()).unwrap_or(f64::NAN)).collect()
}

/// The training curves of one run: the loss (moving average over about 1/50 of the run, drawn
/// at up to 200 points), the per-epoch validation loss and Dice on patches, and the Dice on the
/// whole validation volumes where it was computed.
fn curve_chart(run: &RunCurves) -> Option<Chart> {
    let (h, rows) = read_csv(&run.train_log)?;
    let (step, loss) = (column(&h, &rows, "step"), column(&h, &rows, "loss"));
    let k = (loss.len() / 50).max(1);
    let smooth: Vec<(f64, f64)> = (0..loss.len())
        .step_by((loss.len() / 200).max(1))
        .map(|i| {
            let lo = i.saturating_sub(k - 1);
            (step[i], loss[lo..=i].iter().sum::<f64>() / (i - lo + 1) as f64)
        })
        .collect();
    // Empty cells (a validation that did not run in that epoch) read as NaN: not drawn.
    let (vsteps, vloss, vdice, vvol) = match read_csv(&run.validation_log) {
        Some((vh, vr)) => (
            column(&vh, &vr, "step"),
            column(&vh, &vr, "loss"),
            column(&vh, &vr, "dice"),
            column(&vh, &vr, "volume_dice"),
        ),
        None => (vec![], vec![], vec![], vec![]),
    };
    let ymax = smooth.iter().map(|p| p.1).chain(vloss.iter().copied()).filter(|v| v.is_finite()).fold(1.0, f64::max);
    let xmax = step.last().copied().unwrap_or(1.0).max(vsteps.last().copied().unwrap_or(0.0)).max(1.0);
    let name = run.dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut f = Frame::new(
        &format!("{} · {name}", run.method),
        330.0,
        200.0,
        [0.0, xmax],
        [0.0, ymax],
        ["step", "loss / Dice"],
    );
    let last = smooth.len().saturating_sub(1);
    let t =
        smooth.last().map(|p| format!("training loss (moving average) {:.4} at step {}", p.1, p.0)).unwrap_or_default();
    f.line("training loss", "#555", false, &smooth, vec![(last, t)]);
    let vl: Vec<(f64, f64)> = vsteps.iter().copied().zip(vloss.iter().copied()).collect();
    let vd: Vec<(f64, f64)> = vsteps.iter().copied().zip(vdice.iter().copied()).collect();
    let marks = |what: &str, v: &[f64]| -> Vec<(usize, String)> {
        v.iter().enumerate().map(|(i, x)| (i, format!("validation {what} {x:.4} after step {}", vsteps[i]))).collect()
    };
    f.line("validation loss", "#d62728", false, &vl, marks("loss", &vloss));
    f.line("validation Dice", "#2ca02c", false, &vd, marks("Dice", &vdice));
    // Whole-volume validation (every few epochs): only the rows that have it.
    let whole: Vec<(usize, (f64, f64))> =
        vsteps.iter().copied().zip(vvol.iter().copied()).filter(|p| p.1.is_finite()).enumerate().collect();
    if !whole.is_empty() {
        let xy: Vec<(f64, f64)> = whole.iter().map(|w| w.1).collect();
        let m = whole
            .iter()
            .map(|(i, (s, v))| (*i, format!("whole-volume validation Dice {v:.4} after step {s}")))
            .collect();
        f.line("whole-volume Dice", "#1f77b4", false, &xy, m);
    }
    Some(f.finish())
}

/// What the page shows of one rule.
#[derive(Serialize)]
struct RuleSection {
    name: String,
    slug: String,
    describe: String,
    paper: Table,
    operating: Option<Table>,
    differences: Option<Table>,
    forest: Vec<ForestPanel>,
    froc: Vec<Chart>,
}

impl RuleSection {
    fn new(r: &RuleReport<'_>) -> Self {
        let slug = match r.rule {
            MatchRule::Overlap => "overlap",
            MatchRule::Iou(_) => "iou",
        };
        RuleSection {
            name: r.rule.to_string(),
            slug: slug.into(),
            describe: r.rule.describe(),
            paper: paper_table(r.rows, slug),
            operating: r.summary.and_then(|s| operating_table(s, slug)),
            differences: r.summary.and_then(|s| differences_table(s, slug)),
            forest: r.summary.map(forest).unwrap_or_default(),
            froc: froc_charts(r.rows),
        }
    }
}

#[derive(Serialize)]
struct Page<'a> {
    title: &'a str,
    notes: &'a [String],
    synthetic: bool,
    bootstrap_note: &'static str,
    small_below: Option<f64>,
    rules: Vec<RuleSection>,
    curves: Vec<Chart>,
    gallery: Option<Gallery>,
    gallery_note: Option<String>,
    colours: Vec<String>,
    pairs: Vec<(usize, usize, String)>,
    style: &'static str,
    script: &'static str,
    guard: &'static str,
}

/// What [`write_report`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    /// Bytes of report.html.
    pub bytes: usize,
    /// Lesion tiles.
    pub lesion_tiles: usize,
    /// False-positive tiles.
    pub false_positive_tiles: usize,
}

/// Renders the page to a string.
pub fn render(input: &ReportInput<'_>) -> Result<(String, Written)> {
    let gallery = match &input.gallery {
        Some(src) => Some(crate::gallery::build(src)?),
        None => None,
    };
    let colours = gallery.as_ref().map(|g| g.methods.iter().map(|m| colour(m)).collect()).unwrap_or_default();
    let mut pairs = Vec::new();
    if let Some(g) = &gallery {
        for (i, m) in g.methods.iter().enumerate() {
            if let Some(base) = m.strip_prefix("iw") {
                if let Some(b) = g.methods.iter().position(|x| x == base) {
                    pairs.push((i, b, format!("{m} vs {base}")));
                }
            }
        }
    }
    let first_rows: &[Row] = input.rules.first().map_or(&[], |r| r.rows);
    let mut page = Page {
        title: &input.title,
        notes: &input.notes,
        synthetic: input.synthetic,
        bootstrap_note: match first_rows.first().map(|r| r.bootstrap) {
            Some(BootstrapMode::Corrected) => {
                "mean ± std over 50 bootstrap samples of 80 % of the cases, CORRECTED bootstrap (not the paper's)."
            }
            _ => "mean ± std over 50 bootstrap samples of 80 % of the cases, paper-compatible.",
        },
        small_below: first_rows.first().map(|r| r.small_below),
        rules: input.rules.iter().map(RuleSection::new).collect(),
        curves: input.runs.iter().filter_map(curve_chart).collect(),
        gallery_note: input.gallery_note.clone(),
        colours,
        pairs,
        style: STYLE,
        script: SCRIPT,
        guard: GUARD,
        gallery,
    };
    let mut env = minijinja::Environment::new();
    env.add_template("report.html", TEMPLATE)?;
    let template = env.get_template("report.html")?;
    let mut html = template.render(&page)?;
    if let Some(max) = input.max_bytes.filter(|&m| html.len() > m && page.gallery.is_some()) {
        // The tiles that fit beside the rest of the page: [`crate::gallery::tile_bytes`] is an
        // estimate, so the page is rendered again with a budget smaller by what it overshot
        // until it fits or no tile is left.
        let (lesions, fps) = {
            let g = page.gallery.as_mut().expect("the gallery is there");
            (std::mem::take(&mut g.lesions), std::mem::take(&mut g.false_positives))
        };
        let bare = template.render(&page)?.len();
        let mut budget = max.saturating_sub(bare);
        loop {
            let g = page.gallery.as_mut().expect("the gallery is there");
            (g.lesions, g.false_positives) = crate::gallery::within(&lesions, &fps, budget);
            let kept = g.lesions.len() + g.false_positives.len();
            html = template.render(&page)?;
            if html.len() <= max || kept == 0 {
                break;
            }
            budget = budget.saturating_sub(html.len() - max);
        }
    }
    let written = Written {
        bytes: html.len(),
        lesion_tiles: page.gallery.as_ref().map_or(0, |g| g.lesions.len()),
        false_positive_tiles: page.gallery.as_ref().map_or(0, |g| g.false_positives.len()),
    };
    Ok((html, written))
}

/// Writes `path` (atomically).
pub fn write_report(path: &Path, input: &ReportInput<'_>) -> Result<Written> {
    let (html, w) = render(input)?;
    iw_core::write_file_atomically(path, html.as_bytes()).map_err(Error::from)?;
    Ok(w)
}
