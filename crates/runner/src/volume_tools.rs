//! `iw info`, `iw label`, `iw weights`: volume tools over `iw-core` and `iw-io`.
use anyhow::{bail, Context};
use iw_core::{inverse_weights, label as cc_label, Components, Connectivity, DynVolume, Volume, WeightBounds};
use iw_io::{read_volume, write_volume, Format};
use iw_run::outputs::check_finite_mask;
use std::path::Path;

fn read(path: &Path) -> anyhow::Result<DynVolume> {
    Ok(read_volume(path)?)
}

fn components_of(v: &DynVolume, connectivity: u32) -> anyhow::Result<(Volume<u8>, Components)> {
    let conn = Connectivity::from_number(connectivity)?;
    let mask = v.nonzero_mask();
    let cc = cc_label(mask.data.view(), conn);
    Ok((mask, cc))
}

fn sizes_line(cc: &Components, limit: usize) -> String {
    let mut sizes: Vec<u64> = cc.components.iter().map(|c| c.voxels).collect();
    sizes.sort_unstable_by(|a, b| b.cmp(a));
    let shown: Vec<String> = sizes.iter().take(limit).map(|s| s.to_string()).collect();
    let more = if sizes.len() > limit { format!(" ... ({} more)", sizes.len() - limit) } else { String::new() };
    format!("[{}]{more}", shown.join(", "))
}

fn fmt3(v: [f64; 3]) -> String {
    format!("({:.6}, {:.6}, {:.6})", v[0], v[1], v[2])
}

/// `iw info PATH`.
pub fn info(path: &Path, connectivity: u32) -> anyhow::Result<()> {
    let v = read(path)?;
    let format = match Format::from_path(path)? {
        Format::Nifti { gz: false } => "NIfTI-1",
        Format::Nifti { gz: true } => "NIfTI-1 (gzip)",
        Format::MetaImage { local: false } => "MetaImage (detached data)",
        Format::MetaImage { local: true } => "MetaImage (.mha)",
        Format::Nrrd { detached: false } => "NRRD",
        Format::Nrrd { detached: true } => "NRRD (detached header)",
        Format::Dicom if path.is_dir() => "DICOM series",
        Format::Dicom => "DICOM file",
    };
    let [z, y, x] = v.shape_zyx();
    let g = v.geometry();
    let s = v.value_stats();
    println!("path          {}", path.display());
    println!("format        {format}");
    println!("shape         {x} x {y} x {z} (x, y, z; {} voxels)", x * y * z);
    println!("spacing       {} mm (x, y, z)", fmt3(g.spacing_xyz_mm));
    println!("origin        {} mm (x, y, z, LPS)", fmt3(g.origin_xyz_mm));
    let d = g.direction;
    println!(
        "direction     x axis {}, y axis {}, z axis {} (LPS)",
        fmt3([d[0][0], d[1][0], d[2][0]]),
        fmt3([d[0][1], d[1][1], d[2][1]]),
        fmt3([d[0][2], d[1][2], d[2][2]])
    );
    println!("dtype         {}", v.dtype());
    println!(
        "values        min {} max {} mean {:.6}{}",
        s.min,
        s.max,
        s.sum / (x * y * z - s.nan_count).max(1) as f64,
        if s.nan_count > 0 { format!(" ({} NaN)", s.nan_count) } else { String::new() }
    );
    if let Some(h) = iw_io::nifti::header_of(&v) {
        println!(
            "nifti         qform_code {} sform_code {} scl_slope {} scl_inter {}",
            h.qform_code, h.sform_code, h.scl_slope, h.scl_inter
        );
    }
    if is_mask(&v, s) {
        let (_, cc) = components_of(&v, connectivity)?;
        println!(
            "mask          {} non-zero voxels, {} components ({connectivity}-connected)",
            x as u64 * y as u64 * z as u64 - cc.background_voxels,
            cc.count()
        );
        println!("sizes         {} voxels, largest first", sizes_line(&cc, 20));
    }
    Ok(())
}

/// A mask or label map: integer values in 0..=255.
fn is_mask(v: &DynVolume, s: iw_core::ValueStats) -> bool {
    !v.dtype().is_float() && s.min >= 0.0 && s.max <= 255.0
        || (v.dtype().is_float() && s.nan_count == 0 && s.min >= 0.0 && s.max <= 255.0 && v.is_integral())
}

fn write_labels(output: &Path, mask: &Volume<u8>, cc: &Components) -> anyhow::Result<()> {
    let k = cc.count();
    let labels = &cc.labels;
    if k <= u8::MAX as usize {
        write_volume(output, &mask.with_data(labels.mapv(|l| l as u8)))?;
    } else if k <= u16::MAX as usize {
        write_volume(output, &mask.with_data(labels.mapv(|l| l as u16)))?;
    } else {
        write_volume(output, &mask.with_data(labels.clone()))?;
    }
    Ok(())
}

fn check_output(input: &Path, output: &Path) -> anyhow::Result<()> {
    Format::from_path(output).with_context(|| "choosing the output format".to_string())?;
    if matches!(Format::from_path(output)?, Format::Dicom) {
        bail!("{}: iw does not write DICOM; use .nii.gz, .nii, .nrrd, .nhdr, .mhd or .mha", output.display());
    }
    iw_run::outputs::output_path(output, &[input], None)?;
    Ok(())
}

/// `iw label IN OUT`.
pub fn label(input: &Path, output: &Path, connectivity: u32) -> anyhow::Result<()> {
    check_output(input, output)?;
    let v = read(input)?;
    check_finite_mask(&v, input)?;
    let (mask, cc) = components_of(&v, connectivity)?;
    write_labels(output, &mask, &cc)?;
    println!("{} components ({connectivity}-connected) in {}", cc.count(), input.display());
    for c in &cc.components {
        let b = c.bbox;
        println!(
            "  label {:>5}: {:>10} voxels, bbox x {}..{} y {}..{} z {}..{}",
            c.label, c.voxels, b.min_zyx[2], b.max_zyx[2], b.min_zyx[1], b.max_zyx[1], b.min_zyx[0], b.max_zyx[0]
        );
    }
    println!("wrote {}", output.display());
    Ok(())
}

/// `iw weights MASK OUT`.
pub fn weights(mask_path: &Path, output: &Path, w_min: f64, w_max: f64, connectivity: u32) -> anyhow::Result<()> {
    check_output(mask_path, output)?;
    let bounds = WeightBounds::new(w_min, w_max)?;
    let v = read(mask_path)?;
    check_finite_mask(&v, mask_path)?;
    let (mask, cc) = components_of(&v, connectivity)?;
    let w = inverse_weights(cc.labels.view(), bounds);
    let (lo, hi) = w.iter().fold((f32::MAX, f32::MIN), |(l, h), &x| (l.min(x), h.max(x)));
    write_volume(output, &mask.with_data(w))?;
    println!(
        "{} components; weights in [{lo}, {hi}] (clip [{w_min}, {w_max}]); wrote {}",
        cc.count(),
        output.display()
    );
    Ok(())
}
