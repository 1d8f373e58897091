//! The prepared-dataset format: built for fast random patch reads.
//!
//! ```text
//! <root>/dataset.json            what the dataset is (name, synthetic or not, window, cases)
//! <root>/cases.csv               one row per case: id, shape, spacing, tumours, tumour voxels
//! <root>/cases/<id>/case.json    CaseMeta: geometry, crop, intensity range, components
//! <root>/cases/<id>/image.f32    intensities (HU for CT), C-order [c, z, y, x], little-endian
//!                                (c: the image channels, one for CT)
//! <root>/cases/<id>/mask.u8      lesion mask (0/1)
//! <root>/cases/<id>/labels.u16   lesion components (26-connected, labelled once per case)
//! <root>/cases/<id>/lesions.u32  flat voxel indices of every component, grouped by label
//! ```
//!
//! plus `manifest.yaml` (the split) and, for synthetic data, `synthetic.json`
//! ([`SyntheticInfo`]). [`write_case`] writes one case, [`write_dataset_files`] the rest.
//!
//! Raw little-endian arrays are memory-mapped, so a dataset larger than RAM still trains: a
//! patch read touches only the pages it needs. A case folder is written under a temporary
//! name and renamed when complete, so an interrupted preparation leaves no half case behind.
use crate::error::{Error, Result};
use iw_core::{label, Connectivity};
use iw_core::{Geometry, Volume};
use memmap2::Mmap;
use ndarray::{s, Array3};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// One lesion component of a prepared case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComponentMeta {
    /// Label in labels.u16.
    pub label: u32,
    /// Voxels.
    pub voxels: u64,
    /// First voxel of the bounding box, `[z, y, x]`.
    pub bbox_min_zyx: [usize; 3],
    /// Last voxel (inclusive), `[z, y, x]`.
    pub bbox_max_zyx: [usize; 3],
}

/// Metadata of one prepared case (`case.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseMeta {
    /// Case id (`"17"` for LiTS volume-17).
    pub id: String,
    /// Shape of the prepared (cropped) arrays, `[z, y, x]`.
    pub shape_zyx: [usize; 3],
    /// Voxel size, mm (x, y, z).
    pub spacing_xyz_mm: [f64; 3],
    /// World (LPS) position of voxel (0, 0, 0) of the crop, mm (x, y, z).
    pub origin_xyz_mm: [f64; 3],
    /// Direction matrix (see `Geometry`).
    pub direction: [[f64; 3]; 3],
    /// Where the crop starts in the source volume, `[z, y, x]`.
    pub crop_start_zyx: [usize; 3],
    /// Shape of the source volume, `[z, y, x]`.
    pub source_shape_zyx: [usize; 3],
    /// Source files.
    pub sources: Vec<String>,
    /// Image channels (1 for CT; several for multi-sequence MR), stored one after the other.
    #[serde(default = "one")]
    pub channels: usize,
    /// Smallest intensity of the crop (over all channels).
    pub intensity_min: f64,
    /// Largest intensity of the crop (over all channels).
    pub intensity_max: f64,
    /// Smallest intensity of each channel (the padding value of that channel).
    #[serde(default)]
    pub channel_min: Vec<f64>,
    /// Lesion components, label order.
    pub components: Vec<ComponentMeta>,
    /// Largest label (0: no lesion).
    pub max_label: u32,
    /// How often the sampler draws this case, relative to the others; `None`: its number of
    /// lesions. LUNA16 sets its annotations.csv rows (the authors' `n_tumors`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampling_weight: Option<f64>,
}

fn one() -> usize {
    1
}

impl CaseMeta {
    /// Smallest intensity of channel `c`.
    pub fn channel_min(&self, c: usize) -> f64 {
        self.channel_min.get(c).copied().unwrap_or(self.intensity_min)
    }
    /// Number of lesions.
    pub fn lesions(&self) -> usize {
        self.components.len()
    }
    /// The sampler's weight of this case: [`CaseMeta::sampling_weight`], else its lesions.
    pub fn sampling_weight(&self) -> f64 {
        self.sampling_weight.unwrap_or(self.lesions() as f64)
    }
    /// The crop's geometry.
    pub fn geometry(&self) -> Geometry {
        Geometry { spacing_xyz_mm: self.spacing_xyz_mm, origin_xyz_mm: self.origin_xyz_mm, direction: self.direction }
    }
    /// Number of voxels.
    pub fn voxels(&self) -> usize {
        self.shape_zyx.iter().product()
    }
}

/// Parses and checks the text of a `case.json` (`path` names it in errors): its geometry, a
/// non-empty shape, and sizes whose byte counts (image channels x 4 bytes per voxel, lesion
/// voxels x 4) fit in memory addresses, so the arrays' expected lengths can be computed. The
/// entry point of the fuzz target `case_json`.
pub fn parse_case_meta(path: &Path, text: &str) -> Result<CaseMeta> {
    let meta: CaseMeta =
        serde_json::from_str(text).map_err(|e| Error::format(path, format!("bad case metadata: {e}")))?;
    meta.geometry().validate().map_err(|m| Error::format(path, format!("bad geometry: {m}")))?;
    if meta.shape_zyx.contains(&0) {
        return Err(Error::format(path, format!("empty shape {:?}", meta.shape_zyx)));
    }
    let image_bytes = meta
        .shape_zyx
        .iter()
        .fold((meta.channels.max(1) as u64).checked_mul(4), |acc, &d| acc.and_then(|a| a.checked_mul(d as u64)))
        .filter(|&b| b <= isize::MAX as u64);
    let lesion_bytes = meta
        .components
        .iter()
        .try_fold(0u64, |acc, c| acc.checked_add(c.voxels))
        .and_then(|v| v.checked_mul(4))
        .filter(|&b| b <= isize::MAX as u64);
    if image_bytes.is_none() || lesion_bytes.is_none() {
        return Err(Error::format(
            path,
            format!(
                "shape_zyx {:?} x {} channels or the components' voxels overflow the address space",
                meta.shape_zyx, meta.channels
            ),
        ));
    }
    Ok(meta)
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::io(path, e)
}

fn write_raw<T: bytemuck::Pod>(path: &Path, data: &[T]) -> Result<()> {
    std::fs::write(path, bytemuck::cast_slice::<T, u8>(data)).map_err(io(path))
}

/// Writes one prepared case into `cases_dir/<id>/` (atomically, via a temporary folder) from its
/// cropped image and lesion mask; labels the lesions (26-connectivity) and indexes their voxels.
pub fn write_case(
    cases_dir: &Path,
    id: &str,
    image: &Volume<f32>,
    mask: &Array3<u8>,
    crop_start_zyx: [usize; 3],
    source_shape_zyx: [usize; 3],
    sources: Vec<String>,
) -> Result<CaseMeta> {
    let crop = CropOrigin { start_zyx: crop_start_zyx, source_shape_zyx };
    write_case_channels(cases_dir, id, std::slice::from_ref(image), mask, crop, sources, None)
}

/// Where a prepared case was cut from: the crop's first voxel and the shape of the source volume
/// (z, y, x), as [`CaseMeta`] records them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CropOrigin {
    /// The crop's first voxel in the source volume.
    pub start_zyx: [usize; 3],
    /// The source volume's shape.
    pub source_shape_zyx: [usize; 3],
}

/// [`write_case`] for an image of several channels (one volume each, one grid), with an optional
/// sampling weight ([`CaseMeta::sampling_weight`]).
pub fn write_case_channels(
    cases_dir: &Path,
    id: &str,
    channels: &[Volume<f32>],
    mask: &Array3<u8>,
    crop: CropOrigin,
    sources: Vec<String>,
    sampling_weight: Option<f64>,
) -> Result<CaseMeta> {
    let CropOrigin { start_zyx: crop_start_zyx, source_shape_zyx } = crop;
    let invalid = |m: String| Error::InvalidArgument(format!("case {id}: {m}"));
    let Some(image) = channels.first() else { return Err(invalid("an image needs at least one channel".into())) };
    let shape = image.shape_zyx();
    if mask.shape() != &shape[..] {
        return Err(invalid(format!("mask of shape {:?} for an image of shape {shape:?}", mask.shape())));
    }
    if let Some(c) = channels.iter().find(|c| c.shape_zyx() != shape) {
        return Err(invalid(format!("channels of shapes {shape:?} and {:?}", c.shape_zyx())));
    }
    let cc = label(mask.view(), Connectivity::C26);
    if cc.count() > u16::MAX as usize {
        return Err(Error::InvalidArgument(format!(
            "case {id}: {} lesion components do not fit labels.u16",
            cc.count()
        )));
    }
    let labels: Vec<u16> = cc.labels.iter().map(|&l| l as u16).collect();
    // Voxel indices grouped by label (counting sort): component l starts at start[l - 1].
    let mut fill: Vec<usize> = Vec::with_capacity(cc.count());
    let mut total = 0usize;
    for c in &cc.components {
        fill.push(total);
        total += c.voxels as usize;
    }
    let mut lesions = vec![0u32; total];
    for (i, &l) in labels.iter().enumerate() {
        if l != 0 {
            lesions[fill[l as usize - 1]] = i as u32;
            fill[l as usize - 1] += 1;
        }
    }
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    let mut channel_min = Vec::new();
    for c in channels {
        let mut m = f64::INFINITY;
        for &v in c.data.iter() {
            m = m.min(v as f64);
            hi = hi.max(v as f64);
        }
        lo = lo.min(m);
        channel_min.push(m);
    }
    let g = &image.geometry;
    let meta = CaseMeta {
        id: id.to_string(),
        shape_zyx: shape,
        spacing_xyz_mm: g.spacing_xyz_mm,
        origin_xyz_mm: g.origin_xyz_mm,
        direction: g.direction,
        crop_start_zyx,
        source_shape_zyx,
        sources,
        channels: channels.len(),
        intensity_min: lo,
        intensity_max: hi,
        channel_min,
        components: cc
            .components
            .iter()
            .map(|c| ComponentMeta {
                label: c.label,
                voxels: c.voxels,
                bbox_min_zyx: c.bbox.min_zyx,
                bbox_max_zyx: c.bbox.max_zyx,
            })
            .collect(),
        max_label: cc.count() as u32,
        sampling_weight,
    };
    let final_dir = cases_dir.join(id);
    // iw-core's temporary naming, so that a resumed preparation removes a killed writer's folder
    // (iw_core::remove_stale_temporaries).
    let tmp = cases_dir.join(format!(".iwtmp-{}-case-{id}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
    let mut img: Vec<f32> = Vec::with_capacity(channels.len() * image.data.len());
    for c in channels {
        img.extend(c.data.iter());
    }
    write_raw(&tmp.join("image.f32"), &img)?;
    let m = mask.as_standard_layout();
    write_raw(&tmp.join("mask.u8"), m.as_slice().expect("standard layout"))?;
    write_raw(&tmp.join("labels.u16"), &labels)?;
    write_raw(&tmp.join("lesions.u32"), &lesions)?;
    let json = serde_json::to_string_pretty(&meta).expect("metadata serialises");
    std::fs::write(tmp.join("case.json"), json).map_err(io(&tmp))?;
    if final_dir.exists() {
        std::fs::remove_dir_all(&final_dir).map_err(io(&final_dir))?;
    }
    std::fs::rename(&tmp, &final_dir).map_err(io(&final_dir))?;
    Ok(meta)
}

/// Whether `cases_dir/<id>` is a complete prepared case.
pub fn case_done(cases_dir: &Path, id: &str) -> bool {
    cases_dir.join(id).join("case.json").is_file()
}

/// The bounding box `[start, end)` (`[z, y, x]`) of the voxels of `a` where `inside(index, value)`
/// holds, grown by `margin` voxels and clipped to the volume; `None` when no voxel does.
pub fn bounding_box<T>(
    a: ndarray::ArrayView3<'_, T>,
    margin: usize,
    inside: impl Fn([usize; 3], &T) -> bool,
) -> Option<([usize; 3], [usize; 3])> {
    let (mut lo, mut hi) = ([usize::MAX; 3], [0usize; 3]);
    for ((z, y, x), v) in a.indexed_iter() {
        if inside([z, y, x], v) {
            for (k, c) in [z, y, x].into_iter().enumerate() {
                lo[k] = lo[k].min(c);
                hi[k] = hi[k].max(c);
            }
        }
    }
    if lo[0] == usize::MAX {
        return None;
    }
    let shape = a.shape();
    Some(([0, 1, 2].map(|k| lo[k].saturating_sub(margin)), [0, 1, 2].map(|k| (hi[k] + 1 + margin).min(shape[k]))))
}

/// Crops a volume and its mask to `[start, end)` (`[z, y, x]`).
pub fn crop<T: iw_core::Element>(v: &Volume<T>, start: [usize; 3], end: [usize; 3]) -> Volume<T> {
    let data = v.data.slice(s![start[0]..end[0], start[1]..end[1], start[2]..end[2]]).to_owned();
    Volume::new(data, v.geometry.cropped(start))
}

/// A memory-mapped prepared case.
pub struct PreparedCase {
    /// Its metadata.
    pub meta: CaseMeta,
    /// Labels of another connectivity for the weights (an ablation), with their count.
    weight_labels: Option<(Vec<u16>, u32)>,
    image: Mmap,
    mask: Mmap,
    labels: Mmap,
    lesions: Mmap,
}

fn map(path: &Path, expect_bytes: usize) -> Result<Mmap> {
    let f = std::fs::File::open(path).map_err(io(path))?;
    // SAFETY: the prepared files are written once (rename) and never modified in place; a user
    // who edits them while training gets garbage values, not memory unsafety in our code paths,
    // which only read plain numbers.
    let m = unsafe { Mmap::map(&f) }.map_err(io(path))?;
    if m.len() != expect_bytes {
        return Err(Error::format(
            path,
            format!("{} bytes, expected {expect_bytes} (truncated or corrupt case)", m.len()),
        ));
    }
    Ok(m)
}

impl PreparedCase {
    /// Opens `cases_dir/<id>`.
    pub fn open(cases_dir: &Path, id: &str) -> Result<Self> {
        let dir = cases_dir.join(id);
        let jp = dir.join("case.json");
        let text = std::fs::read_to_string(&jp).map_err(io(&jp))?;
        let meta = parse_case_meta(&jp, &text).map_err(|e| match e {
            Error::Format { path, message } => {
                Error::Format { path, message: format!("{message}; delete {} and rerun `iw prepare`", dir.display()) }
            }
            other => other,
        })?;
        let n = meta.voxels();
        let lesion_voxels: u64 = meta.components.iter().map(|c| c.voxels).sum();
        Ok(PreparedCase {
            weight_labels: None,
            image: map(&dir.join("image.f32"), 4 * n * meta.channels.max(1))?,
            mask: map(&dir.join("mask.u8"), n)?,
            labels: map(&dir.join("labels.u16"), 2 * n)?,
            lesions: map(&dir.join("lesions.u32"), 4 * lesion_voxels as usize)?,
            meta,
        })
    }
    /// Intensities, flat C-order `[c, z, y, x]`.
    pub fn image(&self) -> &[f32] {
        bytemuck::cast_slice(&self.image)
    }
    /// Intensities of channel `c`, flat C-order `[z, y, x]`.
    pub fn channel(&self, c: usize) -> &[f32] {
        let n = self.meta.voxels();
        &self.image()[c * n..(c + 1) * n]
    }
    /// Lesion mask, flat C-order.
    pub fn mask(&self) -> &[u8] {
        &self.mask
    }
    /// Lesion labels, flat C-order.
    pub fn labels(&self) -> &[u16] {
        bytemuck::cast_slice(&self.labels)
    }
    /// The labels the weights are computed from: the prepared (26-connected) ones, or those of
    /// [`PreparedCase::relabel_for_weights`].
    pub fn weight_labels(&self) -> (&[u16], u32) {
        match &self.weight_labels {
            Some((l, k)) => (l, *k),
            None => (self.labels(), self.meta.max_label),
        }
    }

    /// Relabels the lesion mask with another connectivity, once for the whole case (as the
    /// paper labels), for the weights only; lesion-centred sampling keeps the prepared lesions.
    pub fn relabel_for_weights(&mut self, connectivity: Connectivity) -> Result<()> {
        let [d, h, w] = self.meta.shape_zyx;
        let mask = ndarray::ArrayView3::from_shape((d, h, w), self.mask()).expect("mask has the case's shape");
        let cc = label(mask, connectivity);
        if cc.count() > u16::MAX as usize {
            return Err(Error::InvalidArgument(format!("case {}: too many components for u16 labels", self.meta.id)));
        }
        self.weight_labels = Some((cc.labels.iter().map(|&l| l as u16).collect(), cc.count() as u32));
        Ok(())
    }

    /// Flat voxel indices of component `label` (1-based).
    pub fn lesion_voxels(&self, label: u32) -> &[u32] {
        let all: &[u32] = bytemuck::cast_slice(&self.lesions);
        let start: u64 = self.meta.components[..label as usize - 1].iter().map(|c| c.voxels).sum();
        let n = self.meta.components[label as usize - 1].voxels;
        &all[start as usize..(start + n) as usize]
    }
}

/// What `dataset.json` says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetInfo {
    /// Format tag: `iw-prepared-1`.
    pub format: String,
    /// Dataset name (`lits`, `luna16`, ...).
    pub dataset: String,
    /// Whether the raw data was synthetic (`iw synth`), so that reports say so.
    pub synthetic: bool,
    /// The raw folder it was prepared from.
    pub source: String,
    /// Case ids prepared.
    pub cases: Vec<String>,
    /// Cases skipped, with the reason.
    pub skipped: Vec<(String, String)>,
    /// Cases of the manifest missing from the raw folder.
    pub missing: Vec<String>,
    /// iw version that prepared it.
    pub iw_version: String,
}

impl DatasetInfo {
    /// The format tag this version writes and reads.
    pub const FORMAT: &'static str = "iw-prepared-1";
}

/// `synthetic.json`: what marks a dataset synthetic (`iw synth`) and how to make it again. A
/// raw folder holds it; its preparation copies it beside `dataset.json`; reports read it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyntheticInfo {
    /// Always true: the data are not real scans.
    pub synthetic: bool,
    /// The command that wrote them (`iw synth lits`, ...).
    pub generator: String,
    /// iw version.
    pub iw_version: String,
    /// Git revision of the build.
    pub git_revision: String,
    /// The generator's seed.
    pub seed: u64,
    /// Cases written.
    pub cases: usize,
    /// The paper's small-lesion threshold at this data's resolution (diameter, voxels).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub small_below_equivalent: Option<f64>,
    /// What the data are, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The generator's own fields (shape, spacing, lesion counts, ...).
    #[serde(flatten)]
    pub details: serde_json::Map<String, serde_json::Value>,
}

impl SyntheticInfo {
    /// Reads `path`; a file that is not a synthetic.json is an error naming it.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(io(path))?;
        let info: SyntheticInfo =
            serde_json::from_str(&text).map_err(|e| Error::format(path, format!("not a synthetic.json: {e}")))?;
        if !info.synthetic {
            return Err(Error::format(path, "`synthetic` is false"));
        }
        Ok(info)
    }
    /// `folder/synthetic.json` when there is one.
    pub fn read_in(folder: &Path) -> Result<Option<Self>> {
        let p = folder.join("synthetic.json");
        if p.is_file() {
            Self::read(&p).map(Some)
        } else {
            Ok(None)
        }
    }
    /// Writes it (atomically).
    pub fn write(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self).expect("a synthetic.json serialises");
        Ok(iw_core::write_file_atomically(path, text.as_bytes())?)
    }
}

/// What a finished preparation writes beside its cases (the dataset-level files of the format).
pub struct DatasetFiles<'a> {
    /// Dataset name for dataset.json.
    pub dataset: &'a str,
    /// The raw folder it was prepared from.
    pub raw: &'a Path,
    /// The manifest.yaml text.
    pub manifest_text: &'a str,
    /// Cases prepared (in `out/cases/`).
    pub prepared: &'a [String],
    /// Cases skipped, with the reason.
    pub skipped: &'a [(String, String)],
    /// Cases of the manifest missing from the raw folder.
    pub missing: &'a [String],
    /// The raw folder's synthetic.json, copied when there is one.
    pub synthetic: Option<&'a SyntheticInfo>,
    /// iw version.
    pub iw_version: &'a str,
}

/// Writes `cases.csv`, `manifest.yaml`, `synthetic.json` (when synthetic) and `dataset.json`
/// (last: a folder with a dataset.json is complete), each atomically.
pub fn write_dataset_files(out: &Path, f: &DatasetFiles<'_>) -> Result<DatasetInfo> {
    let cases_dir = out.join("cases");
    let mut csv =
        String::from("id,shape_x,shape_y,shape_z,spacing_x_mm,spacing_y_mm,spacing_z_mm,tumours,tumour_voxels\n");
    for id in f.prepared {
        let meta = PreparedCase::open(&cases_dir, id)?.meta;
        let [z, y, x] = meta.shape_zyx;
        let s = meta.spacing_xyz_mm;
        let vox: Vec<String> = meta.components.iter().map(|c| c.voxels.to_string()).collect();
        csv += &format!("{id},{x},{y},{z},{},{},{},{},{}\n", s[0], s[1], s[2], meta.lesions(), vox.join(";"));
    }
    iw_core::write_file_atomically(&out.join("cases.csv"), csv.as_bytes())?;
    iw_core::write_file_atomically(&out.join("manifest.yaml"), f.manifest_text.as_bytes())?;
    if let Some(s) = f.synthetic {
        s.write(&out.join("synthetic.json"))?;
    }
    let info = DatasetInfo {
        format: DatasetInfo::FORMAT.into(),
        dataset: f.dataset.to_string(),
        synthetic: f.synthetic.is_some(),
        source: f.raw.display().to_string(),
        cases: f.prepared.to_vec(),
        skipped: f.skipped.to_vec(),
        missing: f.missing.to_vec(),
        iw_version: f.iw_version.to_string(),
    };
    let text = serde_json::to_string_pretty(&info).expect("dataset.json serialises");
    iw_core::write_file_atomically(&out.join("dataset.json"), text.as_bytes())?;
    Ok(info)
}

/// An opened prepared dataset (a chosen subset of its cases).
pub struct PreparedDataset {
    /// Root folder.
    pub root: PathBuf,
    /// Its dataset.json.
    pub info: DatasetInfo,
    /// The opened cases.
    pub cases: Vec<PreparedCase>,
}

impl PreparedDataset {
    /// Reads `root/dataset.json`.
    pub fn info(root: &Path) -> Result<DatasetInfo> {
        let p = root.join("dataset.json");
        let text = std::fs::read_to_string(&p).map_err(io(&p))?;
        serde_json::from_str(&text).map_err(|e| Error::format(&p, format!("bad dataset metadata: {e}")))
    }

    /// Opens the cases `ids` of the prepared dataset at `root`.
    pub fn open(root: &Path, ids: &[String]) -> Result<Self> {
        let info = Self::info(root)?;
        let cases_dir = root.join("cases");
        let cases = ids.iter().map(|id| PreparedCase::open(&cases_dir, id)).collect::<Result<Vec<_>>>()?;
        if let Some(first) = cases.first() {
            if let Some(c) = cases.iter().find(|c| c.meta.channels != first.meta.channels) {
                return Err(Error::format(
                    &cases_dir.join(&c.meta.id),
                    format!("{} image channels, case {} has {}", c.meta.channels, first.meta.id, first.meta.channels),
                ));
            }
        }
        Ok(PreparedDataset { root: root.to_path_buf(), info, cases })
    }

    /// Image channels of the cases (1 when there are none).
    pub fn channels(&self) -> usize {
        self.cases.first().map_or(1, |c| c.meta.channels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(dir: &Path) -> PathBuf {
        let img = Volume::new(Array3::<f32>::zeros((2, 3, 4)), Geometry::default());
        let mut mask = Array3::<u8>::zeros((2, 3, 4));
        mask[[1, 1, 1]] = 1;
        write_case(dir, "c", &img, &mask, [0; 3], [2, 3, 4], vec![]).unwrap();
        dir.join("c/case.json")
    }

    // See: issue 18 (fuzzing case.json): sizes whose byte counts overflow are errors, not
    // overflowing arithmetic in `PreparedCase::open`.
    #[test]
    fn r18_case_json_sizes_that_overflow_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let text = std::fs::read_to_string(case(dir.path())).unwrap();
        let ok: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert!(parse_case_meta(Path::new("c.json"), &text).is_ok());
        let edits: [(&str, serde_json::Value); 3] = [
            ("channels", serde_json::json!(u64::MAX / 2)),
            ("shape_zyx", serde_json::json!([u32::MAX, u32::MAX, 2])),
            (
                "components",
                serde_json::json!([{"label": 1, "voxels": u64::MAX, "bbox_min_zyx": [0, 0, 0], "bbox_max_zyx": [0, 0, 0]},
                                               {"label": 2, "voxels": 2, "bbox_min_zyx": [0, 0, 0], "bbox_max_zyx": [0, 0, 0]}]),
            ),
        ];
        for (key, value) in edits {
            let mut v = ok.clone();
            v[key] = value;
            let e = parse_case_meta(Path::new("c.json"), &v.to_string()).unwrap_err().to_string();
            assert!(e.starts_with("c.json: ") && e.contains("overflow the address space"), "{key}: {e}");
        }
    }

    #[test]
    fn a_bad_geometry_in_case_json_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let p = case(dir.path());
        assert!(PreparedCase::open(dir.path(), "c").is_ok());
        let text = std::fs::read_to_string(&p).unwrap();
        let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v["spacing_xyz_mm"] = serde_json::json!([1.0, -2.0, 1.0]);
        std::fs::write(&p, v.to_string()).unwrap();
        let e = PreparedCase::open(dir.path(), "c").err().unwrap().to_string();
        assert!(e.contains("case.json") && e.contains("bad geometry"), "{e}");
        v["spacing_xyz_mm"] = serde_json::json!([1.0, 1.0, 1.0]);
        v["direction"] = serde_json::json!([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]);
        std::fs::write(&p, v.to_string()).unwrap();
        let e = PreparedCase::open(dir.path(), "c").err().unwrap().to_string();
        assert!(e.contains("bad geometry") && e.contains("singular"), "{e}");
    }

    #[test]
    fn mismatched_shapes_are_errors_not_panics() {
        let dir = tempfile::tempdir().unwrap();
        let img = Volume::new(Array3::<f32>::zeros((2, 3, 4)), Geometry::default());
        let e = write_case(dir.path(), "c", &img, &Array3::zeros((2, 3, 5)), [0; 3], [2, 3, 4], vec![]).unwrap_err();
        assert!(e.to_string().contains("case c: mask of shape [2, 3, 5]"), "{e}");
        let other = Volume::new(Array3::<f32>::zeros((2, 3, 5)), Geometry::default());
        let e = write_case_channels(
            dir.path(),
            "c",
            &[img, other],
            &Array3::zeros((2, 3, 4)),
            CropOrigin { start_zyx: [0; 3], source_shape_zyx: [2, 3, 4] },
            vec![],
            None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("channels of shapes"), "{e}");
        let crop = CropOrigin { start_zyx: [0; 3], source_shape_zyx: [2, 3, 4] };
        let e = write_case_channels(dir.path(), "c", &[], &Array3::zeros((2, 3, 4)), crop, vec![], None).unwrap_err();
        assert!(e.to_string().contains("at least one channel"), "{e}");
    }

    #[test]
    fn side_files_are_typed() {
        let dir = tempfile::tempdir().unwrap();
        assert!(SyntheticInfo::read_in(dir.path()).unwrap().is_none());
        let p = dir.path().join("synthetic.json");
        std::fs::write(&p, "{\"synthetic\": true}").unwrap();
        let e = SyntheticInfo::read_in(dir.path()).unwrap_err().to_string();
        assert!(e.contains("synthetic.json") && e.contains("not a synthetic.json"), "{e}");
        let info = SyntheticInfo {
            synthetic: true,
            generator: "test".into(),
            iw_version: "0".into(),
            git_revision: "x".into(),
            seed: 3,
            cases: 2,
            small_below_equivalent: Some(4.5),
            note: None,
            details: [("shape_xyz".to_string(), serde_json::json!([1, 2, 3]))].into_iter().collect(),
        };
        info.write(&p).unwrap();
        assert_eq!(SyntheticInfo::read(&p).unwrap(), info);
        let c = dir.path().join("consensus.json");
        std::fs::write(&c, "[]").unwrap();
        let e = crate::luna16::ConsensusRecord::read(&c).unwrap_err().to_string();
        assert!(e.contains("consensus.json") && e.contains("not a consensus record"), "{e}");
    }
}
