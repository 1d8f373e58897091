//! FROC figures like the paper's: recall against average false positives per case (0..6),
//! bootstrap mean with a ±std band; one colour per base loss, dashed without iw and solid with
//! iw; per dataset a panel for all lesions and one for small lesions. PNG and SVG.
//!
//! Text is drawn with the DejaVu Sans font the repository ships (`assets/`), through plotters'
//! `ab_glyph` backend: no font needs to be installed and no fontconfig is involved.
use crate::base_loss;
use crate::error::{Error, Result};
use crate::report::{Row, StratumResult};
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::Once;

static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
static REGISTER: Once = Once::new();

fn register_font() {
    REGISTER.call_once(|| {
        for style in [FontStyle::Normal, FontStyle::Bold] {
            assert!(
                plotters::style::register_font("sans-serif", style, FONT).is_ok(),
                "the shipped DejaVu Sans parses"
            );
        }
    });
}

const KNOWN: [&str; 8] = ["bce", "wce", "dl", "gdl", "fl", "asl", "blob", "cc"];
const COLOURS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

fn colour_of(base: &str, bases: &[String]) -> RGBColor {
    let i = KNOWN
        .iter()
        .position(|k| *k == base)
        .unwrap_or_else(|| KNOWN.len() + bases.iter().position(|b| b == base).unwrap_or(0));
    COLOURS[i % COLOURS.len()]
}

fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    rows: &[&Row],
    pick: fn(&Row) -> &StratumResult,
) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(55)
        .build_cartesian_2d(0f64..6f64, 0f64..1f64)?;
    chart
        .configure_mesh()
        .x_desc("average false positives per case")
        .y_desc("recall")
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 17))
        .light_line_style(RGBColor(245, 245, 245))
        .draw()?;
    let bases: Vec<String> = rows.iter().map(|r| base_loss(&r.method).0.to_string()).collect();
    for r in rows {
        let s = pick(r);
        if s.curve_mean.iter().all(|v| v.is_nan()) {
            continue;
        }
        let (base, iw) = base_loss(&r.method);
        let colour = colour_of(base, &bases);
        let upper =
            s.curve_fp.iter().zip(s.curve_mean.iter().zip(&s.curve_std)).map(|(&x, (&m, &sd))| (x, (m + sd).min(1.0)));
        let lower =
            s.curve_fp.iter().zip(s.curve_mean.iter().zip(&s.curve_std)).map(|(&x, (&m, &sd))| (x, (m - sd).max(0.0)));
        let mut band: Vec<(f64, f64)> = upper.collect();
        band.extend(lower.collect::<Vec<_>>().into_iter().rev());
        chart.draw_series(std::iter::once(Polygon::new(band, colour.mix(0.15).filled())))?;
        let pts: Vec<(f64, f64)> = s.curve_fp.iter().copied().zip(s.curve_mean.iter().copied()).collect();
        let style = colour.stroke_width(2);
        let label = format!("{} ({:.2})", r.method, s.avg_recall.0);
        if iw {
            chart
                .draw_series(LineSeries::new(pts, style))?
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], colour.stroke_width(2)));
        } else {
            chart
                .draw_series(DashedLineSeries::new(pts, 8, 5, style))?
                .label(label)
                .legend(move |(x, y)| DashedPathElement::new(vec![(x, y), (x + 24, y)], 6, 4, colour.stroke_width(2)));
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(180, 180, 180))
        .label_font(("sans-serif", 14))
        .draw()?;
    Ok(())
}

fn figure<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    dataset: &str,
    rows: &[&Row],
) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let small_below = rows.first().map_or(0.0, |r| r.small_below);
    let (left, right) = root.split_horizontally(root.dim_in_pixel().0 / 2);
    let rule = rows.first().map_or(String::new(), |r| match r.rule {
        crate::MatchRule::Overlap => String::new(),
        rule => format!(" ({rule})"),
    });
    panel(&left, &format!("{dataset}: all lesions{rule}"), rows, |r| &r.all)?;
    panel(&right, &format!("{dataset}: small lesions (diameter < {small_below} voxels){rule}"), rows, |r| &r.small)?;
    root.present()
}

/// Writes `froc_<dataset>.png` and `.svg` into `out_dir` for each dataset of `rows`
/// (`froc_<dataset>_iou.*` when the rows are under the one-to-one rule); returns the files
/// written.
pub fn write_froc_figures(rows: &[Row], out_dir: &Path) -> Result<Vec<PathBuf>> {
    register_font();
    let mut datasets: Vec<&str> = rows.iter().map(|r| r.dataset.as_str()).collect();
    datasets.dedup();
    let mut written = Vec::new();
    for ds in datasets {
        let sel: Vec<&Row> = rows.iter().filter(|r| r.dataset == ds).collect();
        // The paper's rule keeps its file names; another rule's figures say which.
        let suffix = match sel.first().map(|r| r.rule) {
            Some(crate::MatchRule::Iou(_)) => "_iou",
            _ => "",
        };
        for ext in ["png", "svg"] {
            let path = out_dir.join(format!("froc_{ds}{suffix}.{ext}"));
            iw_core::write_atomically(&path, |tmp| {
                let res = if ext == "png" {
                    figure(BitMapBackend::new(tmp, (1400, 600)).into_drawing_area(), ds, &sel)
                        .map_err(|e| e.to_string())
                } else {
                    figure(SVGBackend::new(tmp, (1400, 600)).into_drawing_area(), ds, &sel).map_err(|e| e.to_string())
                };
                res.map_err(|message| Error::Plot { path: path.clone(), message })
            })?;
            written.push(path);
        }
    }
    Ok(written)
}

/// Writes a simple line chart (e.g. the training loss against the step) as PNG, atomically.
pub fn write_line_chart(
    path: &Path,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    series: &[(&str, Vec<(f64, f64)>)],
) -> Result<()> {
    register_font();
    let draw = |tmp: &Path| -> std::result::Result<(), String> {
        let root = BitMapBackend::new(tmp, (900, 500)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let pts = series.iter().flat_map(|(_, p)| p.iter());
        let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for &(x, y) in pts {
            if x.is_finite() && y.is_finite() {
                x0 = x0.min(x);
                x1 = x1.max(x);
                y0 = y0.min(y);
                y1 = y1.max(y);
            }
        }
        if x0 > x1 {
            (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
        }
        if x1 <= x0 {
            x1 = x0 + 1.0;
        }
        if y1 <= y0 {
            y1 = y0 + 1.0;
        }
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .label_style(("sans-serif", 14))
            .draw()
            .map_err(|e| e.to_string())?;
        for (i, (name, p)) in series.iter().enumerate() {
            let c = COLOURS[i % COLOURS.len()];
            chart
                .draw_series(LineSeries::new(
                    p.iter().copied().filter(|(x, y)| x.is_finite() && y.is_finite()),
                    c.stroke_width(2),
                ))
                .map_err(|e| e.to_string())?
                .label(*name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .label_font(("sans-serif", 14))
            .draw()
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())
    };
    iw_core::write_atomically(path, |tmp| {
        draw(tmp).map_err(|message| Error::Plot { path: path.to_path_buf(), message })
    })
}
