//! `iw reproduce lits`: data, the ten configurations (several seeds), the report, a README.
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

/// Synthetic data per scale: cases and shape.
fn synthetic_data(scale: &str) -> (usize, [usize; 3]) {
    match scale {
        "smoke" => (2, [48, 48, 24]),
        _ => (20, [128, 128, 64]),
    }
}

fn mean_sd(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let sd = if v.len() > 1 { (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt() } else { 0.0 };
    (m, sd)
}

/// Runs the reproduction.
pub fn lits(
    lits_dir: Option<&Path>,
    scale: Option<&str>,
    seeds: Option<usize>,
    out: &Path,
    work: &Path,
    only: Option<&str>,
    data_only: bool,
) -> anyhow::Result<()> {
    let t0 = Instant::now();
    let real = lits_dir.is_some();
    let scale = scale.unwrap_or(if real { "paper" } else { "cpu" }).to_string();
    if !["paper", "cpu", "smoke"].contains(&scale.as_str()) {
        bail!("--scale must be paper, cpu or smoke, not {scale:?}");
    }
    let seeds = seeds.unwrap_or(if scale == "cpu" { 3 } else { 1 });
    let repo = PathBuf::from("experiments");
    if !repo.join("lits").is_dir() {
        bail!("experiments/lits not found: run from the repository root");
    }
    // Data.
    let (prepared, data_note) = match lits_dir {
        Some(raw) => {
            let prepared = work.join("lits/prepared");
            prepare_lits(raw, &prepared, None)?;
            (prepared, format!("the LiTS training set from `{}` (real data), the paper's split", raw.display()))
        }
        None => {
            let base = work.join(format!("lits-synth-{scale}"));
            let (raw, prepared) = (base.join("raw"), base.join("prepared"));
            let (cases, shape) = synthetic_data(&scale);
            if !raw.join("synthetic.json").is_file() {
                synth_lits(&raw, cases, 0, shape, 2)?;
            }
            if !prepared.join("dataset.json").is_file() {
                prepare_lits(&raw, &prepared, None)?;
            }
            (prepared, format!("SYNTHETIC LiTS-format data (`iw synth lits`, {cases} cases of {} x {} x {} voxels, seed 0), not the real LiTS", shape[0], shape[1], shape[2]))
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
    let runs = work.join(format!("runs-{scale}"));
    let mut example_cfg = String::new();
    for k in 0..seeds {
        for name in &names {
            let file = repo.join("lits").join(format!("{name}.yaml"));
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
    let synthetic_meta: Option<serde_json::Value> =
        std::fs::read_to_string(prepared.join("synthetic.json")).ok().and_then(|t| serde_json::from_str(&t).ok());
    let small_below = synthetic_meta.as_ref().and_then(|m| m["small_below_equivalent"].as_f64());
    let opts = EvalOptions { small_below, ..EvalOptions::default() };
    let all: Vec<MethodRecords> = load_records_dir(&runs)?.into_iter().filter(|m| names.contains(&m.method)).collect();
    let rows = all.iter().map(|m| evaluate_method(m, &opts)).collect::<Result<Vec<_>, _>>()?;
    std::fs::write(out.join("table.md"), format_table(&rows))?;
    std::fs::write(out.join("table.csv"), format_csv(&rows))?;
    write_froc_figures(&rows, out)?;
    // Per seed: each experiment folder on its own.
    let mut per_seed: std::collections::BTreeMap<String, Vec<(f64, f64, f64)>> = Default::default();
    for m in &all {
        for f in &m.files {
            let one = MethodRecords {
                dataset: m.dataset.clone(),
                method: m.method.clone(),
                files: vec![f.clone()],
                cases: iw_metrics::read_records(f)?,
            };
            let r = evaluate_method(&one, &opts)?;
            per_seed.entry(m.method.clone()).or_default().push((
                r.all.avg_recall.0,
                r.small.avg_recall.0,
                r.object_dice.0,
            ));
        }
    }
    let mut science = String::from("| base loss | small avg recall, without iw | with iw | difference (iw - base) | seeds where iw is higher | all lesions: without iw | with iw |\n|---|---|---|---|---|---|---|\n");
    for base in ["dl", "bce", "fl", "asl", "wce", "gdl"] {
        let iw = format!("iw{base}");
        let (Some(a), Some(b)) = (per_seed.get(base), per_seed.get(&iw)) else { continue };
        let n = a.len().min(b.len());
        let sa: Vec<f64> = a[..n].iter().map(|x| x.1).collect();
        let sb: Vec<f64> = b[..n].iter().map(|x| x.1).collect();
        let d: Vec<f64> = sa.iter().zip(&sb).map(|(x, y)| y - x).collect();
        let (ma, sda) = mean_sd(&sa);
        let (mb, sdb) = mean_sd(&sb);
        let (md, sdd) = mean_sd(&d);
        let (aa, aas) = mean_sd(&a[..n].iter().map(|x| x.0).collect::<Vec<_>>());
        let (ab, abs) = mean_sd(&b[..n].iter().map(|x| x.0).collect::<Vec<_>>());
        let wins = d.iter().filter(|&&x| x > 0.0).count();
        let _ = writeln!(science, "| {base} | {ma:.3} ± {sda:.3} | {mb:.3} ± {sdb:.3} | {md:+.3} ± {sdd:.3} | {wins} of {n} | {aa:.3} ± {aas:.3} | {ab:.3} ± {abs:.3} |");
    }
    let mut seeds_table = String::from(
        "| method | seed | avg recall (all) | avg recall (small) | object Dice |\n|---|---|---|---|---|\n",
    );
    for (m, v) in &per_seed {
        for (k, (a, s, d)) in v.iter().enumerate() {
            let _ = writeln!(seeds_table, "| {m} | {k} | {a:.3} | {s:.3} | {d:.3} |");
        }
    }
    let synthetic = iw_data::prepared::PreparedDataset::info(&prepared)?.synthetic;
    let mut readme = String::new();
    let _ =
        writeln!(readme, "# LiTS comparison: {}\n", if synthetic { "synthetic data, CPU scale" } else { "real data" });
    if synthetic {
        let _ = writeln!(readme, "**These numbers come from synthetic data, not from LiTS.** They check the pipeline and the method's behaviour on LiTS-like phantoms; they are not comparable to the paper's table.\n");
    }
    let _ = writeln!(readme, "- Data: {data_note}.");
    let _ = writeln!(
        readme,
        "- Scale: `{scale}` ({}); {seeds} seed(s) per configuration; configurations: {}.",
        if overlay.is_empty() {
            "experiments/lits at paper scale".to_string()
        } else {
            format!("experiments/lits overlaid with {}", overlay[0].display())
        },
        names.join(", ")
    );
    let _ = writeln!(
        readme,
        "- Small lesions: diameter below {} voxels{}.",
        opts.small_below.map_or("12".to_string(), |v| format!("{v:.2}")),
        if small_below.is_some() {
            " (the paper's 12 LiTS voxels at the phantom's resolution: synthetic.json's small_below_equivalent)"
        } else {
            ""
        }
    );
    // Compute time of the runs, from their run.json (this call may have skipped finished stages).
    let mut compute_s = 0.0;
    for m in &all {
        for f in &m.files {
            let rj = f.parent().and_then(|p| p.parent()).map(|d| d.join("run.json"));
            let v: Option<serde_json::Value> =
                rj.and_then(|p| std::fs::read_to_string(p).ok()).and_then(|t| serde_json::from_str(&t).ok());
            if let Some(stages) = v.as_ref().and_then(|v| v["stages"].as_object()) {
                compute_s += stages.values().filter_map(|s| s["wall_s"].as_f64()).sum::<f64>();
            }
        }
    }
    let _ = writeln!(
        readme,
        "- Versions: iw {} (git {}), libtorch {}; compute time of the runs {:.1} min (train + predict + evaluate, from their run.json); command `iw reproduce lits --scale {scale} --seeds {seeds}`.",
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
    let _ = writeln!(readme, "![FROC](froc_lits.png)\n");
    let _ = writeln!(readme, "## Does iw raise small-lesion average recall? (mean ± sd over seeds)\n\n{science}");
    let _ = writeln!(readme, "## Per seed\n\n{seeds_table}");
    if let Ok(findings) = std::fs::read_to_string(repo.join("lits").join(format!("FINDINGS-{scale}.md"))) {
        let _ = writeln!(readme, "{findings}");
    }
    let _ = writeln!(readme, "## Resolved configuration (first run)\n\n```yaml\n{example_cfg}```");
    std::fs::write(out.join("README.md"), readme)?;
    println!(
        "wrote {} (table.md, table.csv, froc_lits.png/.svg, README.md) in {:.1} min",
        out.display(),
        t0.elapsed().as_secs_f64() / 60.0
    );
    Ok(())
}
