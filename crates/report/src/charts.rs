//! Chart geometry for the report's inline SVG: axes, ticks and series in pixels, so the
//! template only draws what it is given.
use serde::Serialize;

/// A point with its hover text.
#[derive(Debug, Clone, Serialize)]
pub struct Marker {
    /// x, pixels.
    pub x: f64,
    /// y, pixels.
    pub y: f64,
    /// Hover text.
    pub title: String,
}

/// One line.
#[derive(Debug, Clone, Serialize)]
pub struct Series {
    /// Legend name.
    pub name: String,
    /// CSS colour.
    pub colour: String,
    /// Dashed.
    pub dashed: bool,
    /// `x,y x,y ...` in pixels.
    pub points: String,
    /// Points with hover text.
    pub markers: Vec<Marker>,
}

/// A tick: position in pixels and its label.
#[derive(Debug, Clone, Serialize)]
pub struct Tick {
    /// Pixels.
    pub at: f64,
    /// Label.
    pub label: String,
}

/// A line chart.
#[derive(Debug, Clone, Serialize)]
pub struct Chart {
    /// Title.
    pub title: String,
    /// Width and height of the SVG, pixels.
    pub w: f64,
    /// Height.
    pub h: f64,
    /// Plot area: left, top, right, bottom.
    pub left: f64,
    /// Top.
    pub top: f64,
    /// Right.
    pub right: f64,
    /// Bottom.
    pub bottom: f64,
    /// x axis label.
    pub x_label: String,
    /// y axis label.
    pub y_label: String,
    /// x ticks.
    pub x_ticks: Vec<Tick>,
    /// y ticks.
    pub y_ticks: Vec<Tick>,
    /// The lines.
    pub series: Vec<Series>,
}

/// Maps data to pixels.
pub struct Frame {
    chart: Chart,
    x: [f64; 2],
    y: [f64; 2],
}

fn tick_label(v: f64) -> String {
    if v.abs() >= 1000.0 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.2}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        if s == "-0" {
            "0".into()
        } else {
            s.to_string()
        }
    }
}

/// About `n` round tick values over `[lo, hi]`.
pub fn nice_ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    if hi.partial_cmp(&lo) != Some(std::cmp::Ordering::Greater) {
        return vec![lo];
    }
    let raw = (hi - lo) / n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|m| m * mag).find(|s| *s >= raw).unwrap_or(10.0 * mag);
    let mut v = (lo / step).ceil() * step;
    let mut out = Vec::new();
    while v <= hi + step * 1e-9 {
        out.push(if v.abs() < step * 1e-9 { 0.0 } else { v });
        v += step;
    }
    out
}

impl Frame {
    /// A `w x h` chart over `x` and `y` data ranges.
    pub fn new(title: &str, w: f64, h: f64, x: [f64; 2], y: [f64; 2], labels: [&str; 2]) -> Self {
        let (left, top, right, bottom) = (48.0, 24.0, w - 10.0, h - 34.0);
        let mut f = Frame {
            chart: Chart {
                title: title.into(),
                w,
                h,
                left,
                top,
                right,
                bottom,
                x_label: labels[0].into(),
                y_label: labels[1].into(),
                x_ticks: vec![],
                y_ticks: vec![],
                series: vec![],
            },
            x,
            y,
        };
        f.chart.x_ticks =
            nice_ticks(x[0], x[1], 6).into_iter().map(|v| Tick { at: f.px(v), label: tick_label(v) }).collect();
        f.chart.y_ticks =
            nice_ticks(y[0], y[1], 5).into_iter().map(|v| Tick { at: f.py(v), label: tick_label(v) }).collect();
        f
    }
    /// x in pixels.
    pub fn px(&self, v: f64) -> f64 {
        let c = &self.chart;
        let t = if self.x[1] > self.x[0] { (v - self.x[0]) / (self.x[1] - self.x[0]) } else { 0.0 };
        ((c.left + t * (c.right - c.left)) * 10.0).round() / 10.0
    }
    /// y in pixels.
    pub fn py(&self, v: f64) -> f64 {
        let c = &self.chart;
        let t = if self.y[1] > self.y[0] { (v - self.y[0]) / (self.y[1] - self.y[0]) } else { 0.0 };
        ((c.bottom - t.clamp(-0.02, 1.02) * (c.bottom - c.top)) * 10.0).round() / 10.0
    }
    /// Adds a line through the finite points of `xy`, with markers at `marks` (index, hover text).
    pub fn line(&mut self, name: &str, colour: &str, dashed: bool, xy: &[(f64, f64)], marks: Vec<(usize, String)>) {
        let points = xy
            .iter()
            .filter(|p| p.0.is_finite() && p.1.is_finite())
            .map(|&(x, y)| format!("{},{}", self.px(x), self.py(y)))
            .collect::<Vec<_>>()
            .join(" ");
        let markers = marks
            .into_iter()
            .filter_map(|(i, title)| {
                let (x, y) = *xy.get(i)?;
                (x.is_finite() && y.is_finite()).then(|| Marker { x: self.px(x), y: self.py(y), title })
            })
            .collect();
        self.chart.series.push(Series { name: name.into(), colour: colour.into(), dashed, points, markers });
    }
    /// The chart.
    pub fn finish(self) -> Chart {
        self.chart
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(nice_ticks(0.0, 6.0, 6), vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(nice_ticks(0.0, 1.0, 5), vec![0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]);
        let f = Frame::new("t", 400.0, 200.0, [0.0, 10.0], [0.0, 1.0], ["x", "y"]);
        assert_eq!(f.px(0.0), 48.0);
        assert_eq!(f.px(10.0), 390.0);
        assert_eq!(f.py(1.0), 24.0);
    }
}
