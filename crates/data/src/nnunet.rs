//! Datasets in the nnU-Net / Medical Segmentation Decathlon layout, and per-modality intensity
//! scaling (METHOD.md, "Data": brain metastases).
//!
//! ```text
//! dataset.json                 nnU-Net v2: channel_names, labels {name: value}, file_ending;
//!                              MSD / nnU-Net v1: modality, labels {value: name}, training [...]
//! imagesTr/<case>_0000.nii.gz  channel 0 (one file per channel: _0001, ...)
//! imagesTr/<case>_0000/        or a DICOM series folder (a case = a folder)
//! labelsTr/<case>.nii.gz       integer labels
//! ```
//! MSD's own layout (`training: [{image, label}]` in dataset.json) is read for 3D images (the
//! single-modality tasks, e.g. Task03_Liver, which is LiTS); its 4D multi-sequence images are
//! not (`nnUNetv2_convert_MSD_dataset` writes them as one file per channel).
use crate::error::{Error, Result};
use crate::lits::Skip;
use crate::prepared::{bounding_box, crop, write_case_channels, CaseMeta};
use iw_core::Volume;
use iw_io::read_volume;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One case: its image per channel and its labels.
#[derive(Debug, Clone, PartialEq)]
pub struct NnCase {
    /// Case identifier.
    pub id: String,
    /// Channel index -> image file or DICOM folder.
    pub channels: BTreeMap<usize, PathBuf>,
    /// Label file.
    pub label: Option<PathBuf>,
}

/// What dataset.json and the folders say.
#[derive(Debug, Clone, PartialEq)]
pub struct NnDataset {
    /// Channel index -> name (`CT`, `FLAIR`, `T1`, ...).
    pub channels: BTreeMap<usize, String>,
    /// Label name -> value (background included).
    pub labels: BTreeMap<String, i64>,
    /// Cases with a label file, by id.
    pub cases: BTreeMap<String, NnCase>,
    /// Ids with images but no label file.
    pub unlabelled: Vec<String>,
}

fn channel_split(name: &str, ending: &str) -> Option<(String, usize)> {
    let stem = name.strip_suffix(ending)?;
    let (id, ch) = stem.rsplit_once('_')?;
    if ch.len() != 4 || !ch.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some((id.to_string(), ch.parse().ok()?))
}

/// Reads dataset.json and finds the cases of `root`.
pub fn find_nnunet(root: &Path) -> Result<NnDataset> {
    let dj = root.join("dataset.json");
    let text = std::fs::read_to_string(&dj).map_err(|e| Error::io(&dj, e))?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| Error::format(&dj, format!("not JSON: {e}")))?;
    let chan_obj = v
        .get("channel_names")
        .or_else(|| v.get("modality"))
        .and_then(|c| c.as_object())
        .ok_or_else(|| Error::format(&dj, "no `channel_names` (nnU-Net v2) or `modality` (MSD) object"))?;
    let mut channels = BTreeMap::new();
    for (k, name) in chan_obj {
        let i: usize = k.parse().map_err(|_| Error::format(&dj, format!("channel key {k:?} is not a number")))?;
        channels.insert(i, name.as_str().unwrap_or("").to_string());
    }
    let mut labels = BTreeMap::new();
    if let Some(obj) = v.get("labels").and_then(|l| l.as_object()) {
        for (k, val) in obj {
            match (k.parse::<i64>(), val) {
                // MSD: {"0": "background"}
                (Ok(n), serde_json::Value::String(name)) => {
                    labels.insert(name.clone(), n);
                }
                // v2: {"background": 0}; region-based labels (lists) are kept by their first value.
                (_, serde_json::Value::Number(n)) => {
                    labels.insert(k.clone(), n.as_i64().unwrap_or(0));
                }
                (_, serde_json::Value::Array(a)) if !a.is_empty() => {
                    labels.insert(k.clone(), a[0].as_i64().unwrap_or(0));
                }
                _ => return Err(Error::format(&dj, format!("label {k:?}: expected a number"))),
            }
        }
    } else {
        return Err(Error::format(&dj, "no `labels` object"));
    }
    // MSD's own layout: a `training` list of {image, label} (3D images: single-modality tasks
    // such as Task03_Liver, which is LiTS).
    if let Some(list) = v.get("training").and_then(|t| t.as_array()) {
        let mut cases = BTreeMap::new();
        for e in list {
            let (Some(img), Some(lab)) =
                (e.get("image").and_then(|x| x.as_str()), e.get("label").and_then(|x| x.as_str()))
            else {
                return Err(Error::format(&dj, "a `training` entry without `image` and `label`"));
            };
            let img = root.join(img.trim_start_matches("./"));
            let lab = root.join(lab.trim_start_matches("./"));
            let name = img.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let id = name.trim_end_matches(".gz").trim_end_matches(".nii").to_string();
            if !img.exists() || !lab.is_file() {
                return Err(Error::format(
                    &dj,
                    format!("training case {id}: {} or {} is missing", img.display(), lab.display()),
                ));
            }
            cases.insert(id.clone(), NnCase { id, channels: BTreeMap::from([(0, img)]), label: Some(lab) });
        }
        return Ok(NnDataset { channels, labels, cases, unlabelled: Vec::new() });
    }
    let ending = v.get("file_ending").and_then(|e| e.as_str()).unwrap_or(".nii.gz").to_string();
    let images = root.join("imagesTr");
    let labels_dir = root.join("labelsTr");
    let mut cases: BTreeMap<String, NnCase> = BTreeMap::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&images)
        .map_err(|e| Error::io(&images, e))?
        .map(|e| e.map(|e| e.path()).map_err(|e| Error::io(&images, e)))
        .collect::<Result<_>>()?;
    entries.sort();
    for p in entries {
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if name.starts_with('.') {
            continue;
        }
        let found = if p.is_dir() {
            // A DICOM series folder: <case>_0000/ or <case>/ (channel 0).
            Some(channel_split(&name, "").unwrap_or((name.clone(), 0)))
        } else {
            channel_split(&name, &ending)
        };
        let Some((id, ch)) = found else {
            if name.ends_with(&ending) {
                return Err(Error::format(
                    &p,
                    format!(
                        "image name must be <case>_<XXXX>{ending} (the channel in four digits); a Decathlon \
                         (MSD) task? nnUNetv2_convert_MSD_dataset converts it (one file per channel)"
                    ),
                ));
            }
            continue;
        };
        let case = cases.entry(id.clone()).or_insert_with(|| NnCase { id, channels: BTreeMap::new(), label: None });
        case.channels.insert(ch, p);
    }
    let mut unlabelled = Vec::new();
    for (id, case) in cases.iter_mut() {
        let l = labels_dir.join(format!("{id}{ending}"));
        if l.is_file() {
            case.label = Some(l);
        } else {
            unlabelled.push(id.clone());
        }
    }
    cases.retain(|_, c| c.label.is_some());
    Ok(NnDataset { channels, labels, cases, unlabelled })
}

/// Intensity scaling of one channel, applied at preparation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scaling {
    /// Keep the values (CT in HU: the experiment's window applies when sampling).
    None,
    /// Clip to the `[lo, hi]` percentiles of the non-zero voxels, then min-max to [0, 1]
    /// (FLAIR in the paper: [50, 99]).
    Percentile(f64, f64),
    /// Zero mean, unit variance over the non-zero voxels; 0 outside them (nnU-Net's MR default).
    ZScore,
}

impl std::str::FromStr for Scaling {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.trim() {
            "none" | "ct" => Ok(Scaling::None),
            "zscore" => Ok(Scaling::ZScore),
            "percentile" => Ok(Scaling::Percentile(50.0, 99.0)),
            other => {
                let bad = || format!("scaling must be none, ct, zscore, percentile or percentile:LO,HI, not {other:?}");
                let r = other.strip_prefix("percentile:").ok_or_else(bad)?;
                let (a, b) = r.split_once(',').ok_or_else(bad)?;
                let (a, b): (f64, f64) = (a.trim().parse().map_err(|_| bad())?, b.trim().parse().map_err(|_| bad())?);
                if !(0.0..=100.0).contains(&a) || !(0.0..=100.0).contains(&b) || a >= b {
                    return Err(format!("percentiles {a}, {b}: need 0 <= lo < hi <= 100"));
                }
                Ok(Scaling::Percentile(a, b))
            }
        }
    }
}

impl Scaling {
    /// The default for a channel name: CT keeps HU, FLAIR the paper's percentiles, other MR
    /// z-scores.
    pub fn for_channel(name: &str) -> Scaling {
        let n = name.to_ascii_lowercase();
        if n == "ct" || n.contains("ct") && !n.contains("flair") {
            Scaling::None
        } else if n.contains("flair") {
            Scaling::Percentile(50.0, 99.0)
        } else {
            Scaling::ZScore
        }
    }

    /// Scales `v` in place.
    pub fn apply(&self, v: &mut Volume<f32>) {
        match *self {
            Scaling::None => {}
            Scaling::Percentile(lo, hi) => {
                let mut fg: Vec<f32> = v.data.iter().copied().filter(|&x| x != 0.0 && x.is_finite()).collect();
                if fg.is_empty() {
                    return;
                }
                fg.sort_by(f32::total_cmp);
                // numpy's default (linear) percentile.
                let q = |p: f64| {
                    let pos = p / 100.0 * (fg.len() - 1) as f64;
                    let (i, f) = (pos.floor() as usize, pos - pos.floor());
                    let a = fg[i] as f64;
                    let b = fg[(i + 1).min(fg.len() - 1)] as f64;
                    a + (b - a) * f
                };
                let (a, b) = (q(lo), q(hi));
                let s = if b > a { 1.0 / (b - a) } else { 0.0 };
                v.data.mapv_inplace(|x| ((x as f64).clamp(a, b) - a) as f32 * s as f32);
            }
            Scaling::ZScore => {
                let (mut n, mut sum, mut sq) = (0f64, 0f64, 0f64);
                for &x in v.data.iter().filter(|&&x| x != 0.0 && x.is_finite()) {
                    n += 1.0;
                    sum += x as f64;
                    sq += (x as f64) * (x as f64);
                }
                if n == 0.0 {
                    return;
                }
                let mean = sum / n;
                let sd = (sq / n - mean * mean).max(0.0).sqrt().max(1e-8);
                v.data.mapv_inplace(|x| if x != 0.0 { ((x as f64 - mean) / sd) as f32 } else { 0.0 });
            }
        }
    }
}

/// How a case is prepared.
#[derive(Debug, Clone)]
pub struct NnOptions {
    /// The channels that make the image, each with its scaling.
    pub channels: Vec<(usize, Scaling)>,
    /// Label values that are lesion (empty: every non-zero label).
    pub foreground: Vec<i64>,
    /// Crop to the bounding box of the non-zero image (nnU-Net's crop), + this margin; `None`:
    /// no crop.
    pub crop_nonzero: Option<usize>,
}

/// Prepares one case into `cases_dir/<id>`.
pub fn prepare_case(cases_dir: &Path, case: &NnCase, opts: &NnOptions) -> Result<std::result::Result<CaseMeta, Skip>> {
    let label_path = case.label.as_ref().expect("labelled cases only");
    let labels = read_volume(label_path)?.to_f32();
    crate::require_finite(&labels, label_path, "mask")?;
    let shape = labels.shape_zyx();
    let mut images = Vec::new();
    let mut sources = Vec::new();
    for &(c, _) in &opts.channels {
        let Some(path) = case.channels.get(&c) else {
            return Ok(Err(Skip(format!("no image for channel {c}"))));
        };
        let image = read_volume(path)?.to_f32();
        crate::require_finite(&image, path, "image")?;
        let s = image.shape_zyx();
        if s != shape {
            return Ok(Err(Skip(format!(
                "channel {c} {} x {} x {} and labels {} x {} x {} (x, y, z) differ",
                s[2], s[1], s[0], shape[2], shape[1], shape[0]
            ))));
        }
        let (a, b) = (image.geometry.spacing_xyz_mm, labels.geometry.spacing_xyz_mm);
        if (0..3).any(|i| (a[i] - b[i]).abs() > 1e-3) {
            return Ok(Err(Skip(format!("channel {c} spacing {a:?} and label spacing {b:?} (mm) differ"))));
        }
        sources.push(path.display().to_string());
        images.push(image);
    }
    sources.push(label_path.display().to_string());
    let mask = labels.data.mapv(|v| {
        let l = v.round() as i64;
        u8::from(if opts.foreground.is_empty() { l != 0 } else { opts.foreground.contains(&l) })
    });
    let (start, end) = match opts.crop_nonzero {
        None => ([0; 3], shape),
        Some(margin) => {
            let inside = |[z, y, x]: [usize; 3], &m: &u8| m != 0 || images.iter().any(|i| i.data[[z, y, x]] != 0.0);
            match bounding_box(mask.view(), margin, inside) {
                Some(b) => b,
                None => return Ok(Err(Skip("the image is zero everywhere".into()))),
            }
        }
    };
    let mut cropped = Vec::new();
    for (image, &(_, scaling)) in images.iter_mut().zip(&opts.channels) {
        scaling.apply(image);
        cropped.push(crop(image, start, end));
    }
    let m = mask.slice(ndarray::s![start[0]..end[0], start[1]..end[1], start[2]..end[2]]).to_owned();
    Ok(Ok(write_case_channels(
        cases_dir,
        &case.id,
        &cropped,
        &m,
        crate::prepared::CropOrigin { start_zyx: start, source_shape_zyx: shape },
        sources,
        None,
    )?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaling_parses_and_scales() {
        assert_eq!("percentile:50,99".parse::<Scaling>().unwrap(), Scaling::Percentile(50.0, 99.0));
        assert!("percentile:99,50".parse::<Scaling>().is_err());
        assert!("minmax".parse::<Scaling>().unwrap_err().contains("scaling must be"));
        assert_eq!(Scaling::for_channel("FLAIR"), Scaling::Percentile(50.0, 99.0));
        assert_eq!(Scaling::for_channel("CT"), Scaling::None);
        assert_eq!(Scaling::for_channel("T1w"), Scaling::ZScore);
        // Non-zero values 1..=101: the 50th percentile is 51, the 99th 100.
        let data = ndarray::Array3::from_shape_fn((1, 1, 102), |(_, _, x)| x as f32);
        let mut v = Volume::new(data, Default::default());
        Scaling::Percentile(50.0, 99.0).apply(&mut v);
        assert_eq!(v.data[[0, 0, 0]], 0.0);
        assert_eq!(v.data[[0, 0, 51]], 0.0);
        assert!((v.data[[0, 0, 75]] - 24.0 / 49.0).abs() < 1e-6);
        assert_eq!(v.data[[0, 0, 101]], 1.0);
        let data = ndarray::Array3::from_shape_fn((1, 1, 5), |(_, _, x)| [0.0, 1.0, 2.0, 3.0, 0.0][x]);
        let mut v = Volume::new(data, Default::default());
        Scaling::ZScore.apply(&mut v);
        let z = (1.0 / (2.0f64 / 3.0).sqrt()) as f32;
        assert_eq!(v.data.as_slice().unwrap(), &[0.0, -z, 0.0, z, 0.0]);
        assert_eq!(channel_split("mets_007_0001.nii.gz", ".nii.gz"), Some(("mets_007".into(), 1)));
        assert_eq!(channel_split("mets_007.nii.gz", ".nii.gz"), None);
    }
}
