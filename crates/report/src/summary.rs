//! The operating points and paired iw-minus-base differences of a set of runs under one
//! matching rule, in the shape of one entry of the `rules` key of `iw reproduce`'s report.json,
//! so that `iw report DIR --html` shows the same numbers for any runs folder.
use crate::error::{Error, Result};
use iw_metrics::operating::{paired_difference, points, Difference, Points, Unit};
use iw_metrics::{MatchRule, MethodRecords};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The per-case voxel Dice of a run's dice.json (`iw evaluate`) at `p`; a corrupt file is an
/// error naming it.
pub fn read_case_dice(p: &Path) -> Result<BTreeMap<String, f64>> {
    #[derive(serde::Deserialize)]
    struct DiceFile {
        cases: BTreeMap<String, f64>,
    }
    let text = std::fs::read_to_string(p).map_err(|e| Error::io(p, e))?;
    let d: DiceFile = serde_json::from_str(&text).map_err(|e| Error::format(p, format!("not a dice.json: {e}")))?;
    Ok(d.cases)
}

/// The paper's configurations pair up as `iw<base>` against `<base>`.
const PAIRS: [&str; 4] = ["bce", "dl", "fl", "asl"];

/// The units, operating points and paired differences of a set of runs under one rule.
#[derive(Debug, Clone)]
pub struct OperatingSummary {
    /// The matching rule the records were read with.
    pub rule: MatchRule,
    /// method -> (experiment folder, its units), in folder order.
    pub units: BTreeMap<String, Vec<(String, Vec<Unit>)>>,
    /// method -> the points of every unit of every seed.
    pub pooled: BTreeMap<String, Points>,
    /// `"iw<b> - <b>"` -> the paired differences over the units both have.
    pub differences: BTreeMap<String, Vec<Difference>>,
}

impl OperatingSummary {
    /// The summary of `methods` under `rule`, lesions split at `small_below` voxels; `dice_of`
    /// names the dice.json of a records file (the run's layout is the caller's). A missing
    /// dice.json counts the voxel Dice as undefined.
    pub fn new(
        methods: &[MethodRecords],
        small_below: f64,
        rule: MatchRule,
        dice_of: &dyn Fn(&Path) -> Option<PathBuf>,
    ) -> Result<Self> {
        let mut units: BTreeMap<String, Vec<(String, Vec<Unit>)>> = BTreeMap::new();
        for m in methods {
            let mut seeds = Vec::new();
            for f in &m.files {
                // The experiment folder's name: <experiment_k>/<metrics folder>/<records file>.
                let metrics_dir = f.parent().unwrap_or(Path::new("."));
                let exp = metrics_dir.parent().and_then(|e| e.file_name()).map(|n| n.to_string_lossy().into_owned());
                let exp = exp.unwrap_or_default();
                let dice = match dice_of(f).filter(|p| p.is_file()) {
                    Some(p) => read_case_dice(&p)?,
                    None => BTreeMap::new(),
                };
                let recs = iw_metrics::read_records(f)?;
                let recs = iw_metrics::match_cases(&recs, rule).map_err(|e| Error::format(f, e.to_string()))?;
                let u: Vec<Unit> = recs
                    .iter()
                    .map(|(case, r)| {
                        let d = dice.get(case).copied().unwrap_or(f64::NAN);
                        Unit::new(format!("{exp}:{case}"), r, d, small_below)
                    })
                    .collect();
                seeds.push((exp, u));
            }
            units.insert(m.method.clone(), seeds);
        }
        let pooled = units
            .iter()
            .map(|(m, seeds)| {
                let all: Vec<Unit> = seeds.iter().flat_map(|(_, u)| u.iter().cloned()).collect();
                (m.clone(), points(&all))
            })
            .collect();
        let mut differences = BTreeMap::new();
        for base in PAIRS {
            let iw = format!("iw{base}");
            let (Some(b), Some(i)) = (units.get(base), units.get(&iw)) else { continue };
            let index = |s: &Vec<(String, Vec<Unit>)>| -> BTreeMap<String, Unit> {
                s.iter().flat_map(|(_, u)| u.iter().map(|x| (x.id.clone(), x.clone()))).collect()
            };
            let (bi, ii) = (index(b), index(i));
            let ids: Vec<&String> = bi.keys().filter(|k| ii.contains_key(*k)).collect();
            let bu: Vec<Unit> = ids.iter().map(|k| bi[*k].clone()).collect();
            let iu: Vec<Unit> = ids.iter().map(|k| ii[*k].clone()).collect();
            differences.insert(format!("{iw} - {base}"), paired_difference(&bu, &iu));
        }
        Ok(OperatingSummary { rule, units, pooled, differences })
    }

    /// The largest number of units of a configuration.
    pub fn unit_count(&self) -> usize {
        self.pooled.values().map(|p| p.units).max().unwrap_or(0)
    }

    /// `{"match": rule, "pooled": {method: points}, "per_seed": {method: [{experiment, points}]},
    /// "iw_minus_base": {"iw<b> - <b>": [differences]}}`.
    pub fn to_json(&self) -> Value {
        let per_seed: BTreeMap<&String, Vec<Value>> = self
            .units
            .iter()
            .map(|(m, seeds)| (m, seeds.iter().map(|(e, u)| json!({"experiment": e, "points": points(u)})).collect()))
            .collect();
        json!({
            "match": self.rule.to_string(),
            "pooled": self.pooled,
            "per_seed": per_seed,
            "iw_minus_base": self.differences,
        })
    }
}

/// [`OperatingSummary::to_json`] of `methods` under `rule`.
pub fn operating_summary(
    methods: &[MethodRecords],
    small_below: f64,
    rule: MatchRule,
    dice_of: &dyn Fn(&Path) -> Option<PathBuf>,
) -> Result<Value> {
    Ok(OperatingSummary::new(methods, small_below, rule, dice_of)?.to_json())
}
