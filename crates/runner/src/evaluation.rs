//! `iw records` and `iw report`: lesion-wise evaluation over `iw-metrics`.
use anyhow::{bail, Context};
use iw_core::DynVolume;
use iw_io::read_volume;
use iw_metrics::{
    evaluate_case, evaluate_method, format_csv, format_table, load_records_dir, read_records, to_json,
    write_froc_figures, write_records, BootstrapMode, CaseRecords, EvalOptions,
};
use std::path::Path;

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
    crate::outputs::output_path(out, &inputs, None)?;
    let g = read_volume(gt)?;
    crate::volume_tools::check_finite_mask(&g, gt)?;
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
    let eval = evaluate_case(gf.data.view(), pf.data.view(), l.as_ref().map(|v| v.data.view()))?;
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

/// `iw report DIR`.
pub fn report(
    dir: &Path,
    json: bool,
    out: Option<&Path>,
    small_below: Option<f64>,
    bootstrap_fix: bool,
) -> anyhow::Result<()> {
    if let Some(s) = small_below {
        if !(s.is_finite() && s > 0.0) {
            bail!("--small-below must be a positive number of voxels, not {s}");
        }
    }
    let methods = load_records_dir(dir)?;
    let opts = EvalOptions {
        small_below,
        bootstrap: if bootstrap_fix { BootstrapMode::Corrected } else { BootstrapMode::Paper },
        ..EvalOptions::default()
    };
    let rows = methods.iter().map(|m| evaluate_method(m, &opts)).collect::<Result<Vec<_>, _>>()?;
    if json {
        println!("{}", serde_json::to_string_pretty(&to_json(&rows))?);
    } else {
        print!("{}", format_table(&rows));
    }
    if let Some(out) = out {
        crate::outputs::output_path(out, &[], None)?;
        if out.is_file() {
            bail!("{}: --out is a file, not a folder", out.display());
        }
        std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
        for (name, text) in [("table.md", format_table(&rows)), ("table.csv", format_csv(&rows))] {
            iw_core::write_file_atomically(&out.join(name), text.as_bytes())?;
        }
        let figs = write_froc_figures(&rows, out)?;
        if !json {
            println!("wrote {} and {} figures to {}", ["table.md", "table.csv"].join(", "), figs.len(), out.display());
        }
    }
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
