//! The LiTS raw layout and its preparation (METHOD.md, "Data").
//!
//! Raw: `volume-<N>.nii[.gz]` and `segmentation-<N>.nii[.gz]` anywhere under a folder (the
//! official "Training Batch 1/2" layout), labels 0 background, 1 liver, 2 tumour. A prepared
//! case is cropped to the liver's bounding box + 5 voxels (clipped to the volume), keeps the
//! tumour mask, and labels its tumours once (26-connectivity).
use crate::error::{Error, Result};
use crate::prepared::{bounding_box, crop, write_case, CaseMeta};
use iw_io::read_volume;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The files of one raw LiTS case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawCase {
    /// The CT.
    pub volume: PathBuf,
    /// The labels.
    pub segmentation: PathBuf,
}

/// Why a case was skipped (reported by id, never dropped silently).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip(pub String);

fn case_number(name: &str, prefix: &str) -> Option<u32> {
    let rest = name.strip_prefix(prefix)?;
    let num = rest.strip_suffix(".nii.gz").or_else(|| rest.strip_suffix(".nii"))?;
    num.parse().ok()
}

/// Finds `volume-N` / `segmentation-N` pairs under `root` (any depth). Returns the complete
/// pairs by id and the ids that have only one of the two files.
pub fn find_cases(root: &Path) -> Result<(BTreeMap<u32, RawCase>, Vec<u32>)> {
    let mut vols: BTreeMap<u32, PathBuf> = BTreeMap::new();
    let mut segs: BTreeMap<u32, PathBuf> = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    if !root.is_dir() {
        return Err(Error::format(root, "not a folder"));
    }
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))? {
            let p = e.map_err(|e| Error::io(&dir, e))?.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            if let Some(n) = case_number(&name, "volume-") {
                vols.insert(n, p);
            } else if let Some(n) = case_number(&name, "segmentation-") {
                segs.insert(n, p);
            }
        }
    }
    let mut pairs = BTreeMap::new();
    let mut half = Vec::new();
    for (n, v) in &vols {
        match segs.get(n) {
            Some(s) => {
                pairs.insert(*n, RawCase { volume: v.clone(), segmentation: s.clone() });
            }
            None => half.push(*n),
        }
    }
    half.extend(segs.keys().filter(|n| !vols.contains_key(n)));
    half.sort_unstable();
    Ok((pairs, half))
}

/// Prepares one case into `cases_dir/<id>`. `Ok(Err(skip))` for a case that cannot be used
/// (shape mismatch, no liver), `Err` for an I/O or format failure.
pub fn prepare_case(cases_dir: &Path, id: &str, raw: &RawCase) -> Result<std::result::Result<CaseMeta, Skip>> {
    let image = read_volume(&raw.volume)?.to_f32();
    crate::require_finite(&image, &raw.volume, "image")?;
    let seg = read_volume(&raw.segmentation)?;
    if image.shape_zyx() != seg.shape_zyx() {
        let (a, b) = (image.shape_zyx(), seg.shape_zyx());
        return Ok(Err(Skip(format!(
            "image {} x {} x {} and segmentation {} x {} x {} (x, y, z) differ",
            a[2], a[1], a[0], b[2], b[1], b[0]
        ))));
    }
    let seg = seg.to_f32();
    crate::require_finite(&seg, &raw.segmentation, "mask")?;
    let labels = seg.data;
    let Some((start, end)) = bounding_box(labels.view(), 5, |_, &v| v >= 0.5) else {
        return Ok(Err(Skip("no liver label (1 or 2) in the segmentation".into())));
    };
    let shape = image.shape_zyx();
    let img = crop(&image, start, end);
    let mask = labels
        .slice(ndarray::s![start[0]..end[0], start[1]..end[1], start[2]..end[2]])
        .mapv(|v| u8::from((1.5..2.5).contains(&v)));
    let sources = vec![raw.volume.display().to_string(), raw.segmentation.display().to_string()];
    Ok(Ok(write_case(cases_dir, id, &img, &mask, start, shape, sources)?))
}
