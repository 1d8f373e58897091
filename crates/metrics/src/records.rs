//! Per-lesion records, the schema of the paper's `prc_records.json`.
//!
//! A records file maps a case id (a string) to the records of that case: one per ground-truth
//! component (`is_tum: true`, `obj: "tum_<k>"`) and one per predicted component
//! (`is_tum: false`, `obj: "pred_<k>"`). Python's json module writes the infinities of
//! `hit_logit` / `self_logit` as the bare tokens `Infinity` and `-Infinity` (not JSON), so this
//! module reads and writes them the same way.
//!
//! iw adds three optional keys to each record, the [`Extent`] of its component, which the paper's
//! files lack: `voxels` (the component's size), `voxel_mm3` (the case's voxel volume) and
//! `overlaps` (`{"pred_3": 120, ...}`: voxels shared with each component of the other side). They
//! let a report apply another matching rule ([`crate::MatchRule`]) or measure volumes in mm^3
//! without reloading the predictions. Records without them still read; the paper's rule needs
//! none of them.
use crate::error::{Error, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// One lesion record (see METHOD.md, "Evaluation").
#[derive(Debug, Clone, PartialEq)]
pub struct LesionRecord {
    /// `tum_<k>` or `pred_<k>` (k = the component's label).
    pub obj: String,
    /// Ground-truth component (true) or predicted component (false).
    pub is_tum: bool,
    /// (6 V / pi)^(1/3), V in voxels.
    pub diameter: f64,
    /// Best Dice with an overlapping component of the other kind (0: none).
    pub hit_dice: f64,
    /// Max probability of the other side inside the hit.
    pub hit_max: f64,
    /// Median probability inside the hit.
    pub hit_median: f64,
    /// 95th percentile of probability inside the hit.
    pub hit_q95: f64,
    /// Max logit inside the hit (`-inf`: no hit).
    pub hit_logit: f64,
    /// Same as `hit_max` (kept for the schema).
    pub hit_stat: f64,
    /// `pred_<k>` / `tum_<k>` of the hit, or `pred_None` / `tum_None`.
    pub hit_obj: String,
    /// Max probability inside this component (1 for ground truth).
    pub self_stat: f64,
    /// Max logit inside this component (`+inf` for ground truth).
    pub self_logit: f64,
    /// The component's size and overlaps (`None` in the paper's files and in iw's before they
    /// were recorded).
    pub extent: Option<Extent>,
}

/// What a matching rule needs of a component beyond the paper's schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Extent {
    /// Voxels in the component.
    pub voxels: u64,
    /// Volume of one voxel in mm^3 (`None`: the case's spacing was not known).
    pub voxel_mm3: Option<f64>,
    /// Voxels shared with each overlapping component of the other side, by its `obj`
    /// (`pred_<k>` for a GT record, `tum_<k>` for a predicted one), in label order.
    pub overlaps: Vec<(String, u64)>,
}

/// Records of many cases, by case id (string order, as the paper's files are written).
pub type CaseRecords = BTreeMap<String, Vec<LesionRecord>>;

#[derive(Deserialize)]
#[serde(untagged)]
enum Num {
    F(f64),
    S(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRecord {
    obj: String,
    is_tum: bool,
    diameter: Num,
    hit_dice: Num,
    hit_max: Num,
    hit_median: Num,
    hit_q95: Num,
    hit_logit: Num,
    hit_stat: Num,
    hit_obj: String,
    self_stat: Num,
    self_logit: Num,
    #[serde(default)]
    voxels: Option<u64>,
    #[serde(default)]
    voxel_mm3: Option<f64>,
    #[serde(default)]
    overlaps: Option<BTreeMap<String, u64>>,
}

/// Label order of `pred_<k>` / `tum_<k>` keys (so `pred_10` follows `pred_9`).
fn obj_order(obj: &str) -> (u64, &str) {
    let k = obj.rsplit_once('_').and_then(|(_, k)| k.parse().ok()).unwrap_or(u64::MAX);
    (k, obj)
}

/// Quotes the bare tokens `Infinity`, `-Infinity` and `NaN` outside strings, so that a
/// standard JSON parser reads Python's output.
fn quote_non_finite(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len() + 64);
    let (mut i, mut in_str, mut esc) = (0, false, false);
    let mut last = 0;
    while i < b.len() {
        let c = b[i];
        if in_str {
            if esc {
                esc = false;
            } else if c == b'\\' {
                esc = true;
            } else if c == b'"' {
                in_str = false;
            }
            i += 1;
            continue;
        }
        if c == b'"' {
            in_str = true;
            i += 1;
            continue;
        }
        for tok in ["-Infinity", "Infinity", "NaN"] {
            if b[i..].starts_with(tok.as_bytes()) {
                out.push_str(&text[last..i]);
                out.push('"');
                out.push_str(tok);
                out.push('"');
                i += tok.len();
                last = i;
                break;
            }
        }
        i += 1;
    }
    if last < text.len() {
        out.push_str(&text[last..]);
    }
    out
}

fn num(path: &Path, case: &str, obj: &str, key: &str, v: &Num) -> Result<f64> {
    let x = match v {
        Num::F(x) => *x,
        Num::S(s) if s == "Infinity" => f64::INFINITY,
        Num::S(s) if s == "-Infinity" => f64::NEG_INFINITY,
        Num::S(s) if s == "NaN" => f64::NAN,
        Num::S(s) => return Err(Error::records(path, format!("case {case}, {obj}: {key} = {s:?} is not a number"))),
    };
    if x.is_nan() {
        return Err(Error::records(path, format!("case {case}, {obj}: {key} is NaN")));
    }
    Ok(x)
}

/// The [`Extent`] of a raw record: all three keys or none (`voxel_mm3` may be absent alone).
fn extent_of(path: &Path, case: &str, r: &RawRecord) -> Result<Option<Extent>> {
    let bad = |m: &str| Error::records(path, format!("case {case}, {}: {m}", r.obj));
    match (r.voxels, &r.overlaps) {
        (None, None) if r.voxel_mm3.is_none() => Ok(None),
        (Some(voxels), Some(o)) => {
            if voxels == 0 {
                return Err(bad("voxels = 0: a component has at least one voxel"));
            }
            if let Some(v) = r.voxel_mm3 {
                if !(v.is_finite() && v > 0.0) {
                    return Err(bad(&format!("voxel_mm3 = {v} must be finite and > 0")));
                }
            }
            let mut overlaps: Vec<(String, u64)> = o.iter().map(|(k, &n)| (k.clone(), n)).collect();
            overlaps.sort_by(|a, b| obj_order(&a.0).cmp(&obj_order(&b.0)));
            if let Some((k, n)) = overlaps.iter().find(|(_, n)| *n == 0 || *n > voxels) {
                return Err(bad(&format!("overlaps[{k:?}] = {n} must be in 1..={voxels} (voxels)")));
            }
            Ok(Some(Extent { voxels, voxel_mm3: r.voxel_mm3, overlaps }))
        }
        _ => Err(bad("voxels, overlaps (and voxel_mm3) come together: some are missing")),
    }
}

/// Reads a `prc_records.json`.
pub fn read_records(path: &Path) -> Result<CaseRecords> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    parse_records(path, &text)
}

/// Parses the text of a records file (`path` only names it in errors).
pub fn parse_records(path: &Path, text: &str) -> Result<CaseRecords> {
    let raw: BTreeMap<String, Vec<RawRecord>> = serde_json::from_str(&quote_non_finite(text))
        .map_err(|e| Error::records(path, format!("not a records file: {e}")))?;
    let mut out = CaseRecords::new();
    for (case, recs) in raw {
        let mut v = Vec::with_capacity(recs.len());
        for r in recs {
            let n = |key: &str, x: &Num| num(path, &case, &r.obj, key, x);
            let rec = LesionRecord {
                diameter: n("diameter", &r.diameter)?,
                hit_dice: n("hit_dice", &r.hit_dice)?,
                hit_max: n("hit_max", &r.hit_max)?,
                hit_median: n("hit_median", &r.hit_median)?,
                hit_q95: n("hit_q95", &r.hit_q95)?,
                hit_logit: n("hit_logit", &r.hit_logit)?,
                hit_stat: n("hit_stat", &r.hit_stat)?,
                self_stat: n("self_stat", &r.self_stat)?,
                self_logit: n("self_logit", &r.self_logit)?,
                is_tum: r.is_tum,
                obj: r.obj.clone(),
                hit_obj: r.hit_obj.clone(),
                extent: extent_of(path, &case, &r)?,
            };
            for (key, x) in [("diameter", rec.diameter), ("hit_dice", rec.hit_dice)] {
                if !x.is_finite() || x < 0.0 {
                    return Err(Error::records(
                        path,
                        format!("case {case}, {}: {key} = {x} must be finite and >= 0", rec.obj),
                    ));
                }
            }
            if rec.hit_dice > 1.0 {
                return Err(Error::records(path, format!("case {case}, {}: hit_dice = {} > 1", rec.obj, rec.hit_dice)));
            }
            v.push(rec);
        }
        out.insert(case, v);
    }
    Ok(out)
}

/// A float as Python's json module writes it (`Infinity`, `-Infinity`, shortest round trip).
fn py_float(x: f64) -> String {
    if x == f64::INFINITY {
        "Infinity".into()
    } else if x == f64::NEG_INFINITY {
        "-Infinity".into()
    } else {
        format!("{x:?}")
    }
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).expect("a string serialises")
}

/// The text of a records file, laid out like the paper's (`json.dump(..., indent=0)`).
pub fn format_records(records: &CaseRecords) -> String {
    let mut s = String::from("{\n");
    for (ci, (case, recs)) in records.iter().enumerate() {
        let _ = write!(s, "{}: [", json_string(case));
        for (ri, r) in recs.iter().enumerate() {
            s.push_str(if ri == 0 { "\n{\n" } else { ",\n{\n" });
            let fields: [(&str, String); 12] = [
                ("obj", json_string(&r.obj)),
                ("is_tum", r.is_tum.to_string()),
                ("diameter", py_float(r.diameter)),
                ("hit_dice", py_float(r.hit_dice)),
                ("hit_max", py_float(r.hit_max)),
                ("hit_median", py_float(r.hit_median)),
                ("hit_q95", py_float(r.hit_q95)),
                ("hit_logit", py_float(r.hit_logit)),
                ("hit_stat", py_float(r.hit_stat)),
                ("hit_obj", json_string(&r.hit_obj)),
                ("self_stat", py_float(r.self_stat)),
                ("self_logit", py_float(r.self_logit)),
            ];
            let mut body: Vec<String> = fields.iter().map(|(k, v)| format!("\"{k}\": {v}")).collect();
            if let Some(e) = &r.extent {
                body.push(format!("\"voxels\": {}", e.voxels));
                if let Some(v) = e.voxel_mm3 {
                    body.push(format!("\"voxel_mm3\": {}", py_float(v)));
                }
                let o: Vec<String> = e.overlaps.iter().map(|(k, n)| format!("{}: {n}", json_string(k))).collect();
                body.push(format!("\"overlaps\": {{{}}}", o.join(", ")));
            }
            s.push_str(&body.join(",\n"));
            s.push_str("\n}");
        }
        s.push_str(if recs.is_empty() { "]" } else { "\n]" });
        s.push_str(if ci + 1 < records.len() { ",\n" } else { "\n" });
    }
    s.push('}');
    s
}

/// Writes a records file atomically.
pub fn write_records(path: &Path, records: &CaseRecords) -> Result<()> {
    Ok(iw_core::write_file_atomically(path, format_records(records).as_bytes())?)
}
