//! Per-seed comparison of iw against its base loss: each experiment folder (one seed) of a
//! method evaluated on its own, then, for every base loss with an iw twin, small-lesion average
//! recall without and with iw across seeds.
use crate::error::Result;
use crate::report::{evaluate_method, EvalOptions, MethodRecords};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One seed's numbers: average recall (all lesions), average recall (small), object Dice.
pub type SeedSummary = (f64, f64, f64);

/// Every method's per-seed summaries, in the order of its experiment folders.
pub fn per_seed(methods: &[MethodRecords], opts: &EvalOptions) -> Result<BTreeMap<String, Vec<SeedSummary>>> {
    let mut per_seed: BTreeMap<String, Vec<SeedSummary>> = BTreeMap::new();
    for m in methods {
        for f in &m.files {
            let one = MethodRecords {
                dataset: m.dataset.clone(),
                method: m.method.clone(),
                files: vec![f.clone()],
                cases: crate::records::read_records(f)?,
            };
            let r = evaluate_method(&one, opts)?;
            per_seed.entry(m.method.clone()).or_default().push((
                r.all.avg_recall.0,
                r.small.avg_recall.0,
                r.object_dice.0,
            ));
        }
    }
    Ok(per_seed)
}

/// Mean and sample standard deviation.
pub fn mean_sd(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let sd = if v.len() > 1 { (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt() } else { 0.0 };
    (m, sd)
}

/// The markdown table "does iw raise small-lesion average recall?" (mean ± sd over seeds).
pub fn iw_vs_base_table(per_seed: &BTreeMap<String, Vec<SeedSummary>>) -> String {
    let mut science = String::from("| base loss | small avg recall, without iw | with iw | difference (iw - base) | seeds where iw is higher (of seeds with small lesions in every sample) | all lesions: without iw | with iw |\n|---|---|---|---|---|---|---|\n");
    for base in ["dl", "bce", "fl", "asl", "wce", "gdl"] {
        let iw = format!("iw{base}");
        let (Some(a), Some(b)) = (per_seed.get(base), per_seed.get(&iw)) else { continue };
        let n = a.len().min(b.len());
        // Seeds where both small-lesion values exist (a bootstrap sample without small lesions
        // makes the value undefined: too few small lesions in that seed's test set).
        let both: Vec<usize> = (0..n).filter(|&k| a[k].1.is_finite() && b[k].1.is_finite()).collect();
        let sa: Vec<f64> = both.iter().map(|&k| a[k].1).collect();
        let sb: Vec<f64> = both.iter().map(|&k| b[k].1).collect();
        let d: Vec<f64> = sa.iter().zip(&sb).map(|(x, y)| y - x).collect();
        let ms = |v: &[f64], signed: bool| -> String {
            if v.is_empty() {
                return "n/a".into();
            }
            let (m, sd) = mean_sd(v);
            if signed {
                format!("{m:+.3} ± {sd:.3}")
            } else {
                format!("{m:.3} ± {sd:.3}")
            }
        };
        let wins = d.iter().filter(|&&x| x > 0.0).count();
        let all_a: Vec<f64> = a[..n].iter().map(|x| x.0).filter(|v| v.is_finite()).collect();
        let all_b: Vec<f64> = b[..n].iter().map(|x| x.0).filter(|v| v.is_finite()).collect();
        let _ = writeln!(
            science,
            "| {base} | {} | {} | {} | {wins} of {} | {} | {} |",
            ms(&sa, false),
            ms(&sb, false),
            ms(&d, true),
            both.len(),
            ms(&all_a, false),
            ms(&all_b, false)
        );
    }
    science
}

/// The markdown table of every method's per-seed numbers.
pub fn per_seed_table(per_seed: &BTreeMap<String, Vec<SeedSummary>>) -> String {
    let mut seeds_table = String::from(
        "| method | seed | avg recall (all) | avg recall (small) | object Dice |\n|---|---|---|---|---|\n",
    );
    for (m, v) in per_seed {
        for (k, (a, s, d)) in v.iter().enumerate() {
            let f = |v: &f64| if v.is_finite() { format!("{v:.3}") } else { "n/a".into() };
            let _ = writeln!(seeds_table, "| {m} | {k} | {} | {} | {} |", f(a), f(s), f(d));
        }
    }
    seeds_table
}
