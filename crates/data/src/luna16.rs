//! The LUNA16 raw layout and its preparation (METHOD.md, "Data"), as the authors' notebook
//! `LUNA16_preprocessing.ipynb` does it.
//!
//! Raw (the official download):
//! ```text
//! subset0/ .. subset9/<seriesuid>.mhd + .raw   CT (MetaImage, HU)
//! seg-lungs-LUNA16/<seriesuid>.mhd + .zraw      lung masks: two lungs and the trachea
//! annotations.csv                               seriesuid,coordX,coordY,coordZ,diameter_mm (world mm)
//! tcia-lidc-xml/<folder>/*.xml                  the LIDC-IDRI readers' contours (any depth)
//! ```
//! Preparation of one scan: lung mask = every label of the lung mask but the smallest (the
//! trachea; a mask with two labels keeps both), closed with 10 dilations + 10 erosions, dilated
//! 3 more (6-connected cross, as skimage); CT, mask and target cropped to its bounding box + 5
//! voxels; CT set to its minimum outside the mask. The intensity window is applied when
//! sampling, as for LiTS.
//!
//! Target, in the authors' voxel indices: `index = (world - origin) / spacing` per axis (the
//! direction matrix is not used), annotation centres rounded (`np.round`); for the scans of the
//! reverse list the annotation's x and y are first mirrored about the origin,
//! `2 origin - world` (for those scans, whose TransformMatrix flips x and y, this is their
//! direction-aware index). A reader's nodule counts when its centre, the rounded mean of its
//! contour points `(x, y, (z - origin_z) / spacing_z)`, lies within 10 voxels of an annotation
//! centre; its contours are filled slice by slice on slice `trunc((z - origin_z) /
//! spacing_z)` (`int()`, as `fill3d`); a voxel is lesion where at least 2 of 4 readers marked it
//! (sum / 4 >= 0.5). Only the first LIDC XML of a series (in path order) is read, as the
//! authors' `id2root` returns the first match.
//!
//! Two deliberate departures from the authors' code, both clear bugs there: a reader's
//! exclusion contours (`<inclusion>FALSE`) cut holes (the authors fill them like inclusions),
//! and a reader counts once where two of their matched nodules overlap (the authors add both).
use crate::error::{Error, Result};
use crate::lidc::{LidcRead, ReaderNodule};
use crate::lits::Skip;
use crate::prepared::{bounding_box, crop, write_case_channels, CaseMeta};
use iw_core::morphology::{close, dilate};
use iw_core::polygon::fill_contours;
use iw_core::Geometry;
use iw_io::read_volume;
use ndarray::Array3;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

/// Readers per LIDC scan (the consensus divides by this even when fewer read a scan).
pub const READERS: usize = 4;
/// A reader's nodule counts when its centroid is within this many voxels of an annotation.
pub const MATCH_VOXELS: f64 = 10.0;

/// One row of annotations.csv.
#[derive(Debug, Clone, PartialEq)]
pub struct Annotation {
    /// The scan.
    pub series_uid: String,
    /// Nodule centre, world mm (x, y, z).
    pub center_xyz_mm: [f64; 3],
    /// Diameter, mm.
    pub diameter_mm: f64,
}

/// Reads annotations.csv (header `seriesuid,coordX,coordY,coordZ,diameter_mm`).
pub fn read_annotations(path: &Path) -> Result<Vec<Annotation>> {
    let mut rd = csv::Reader::from_path(path).map_err(|e| Error::format(path, e.to_string()))?;
    let headers = rd.headers().map_err(|e| Error::format(path, e.to_string()))?.clone();
    let col = |name: &str| {
        headers.iter().position(|h| h.trim() == name).ok_or_else(|| {
            Error::format(path, format!("no `{name}` column (expected seriesuid,coordX,coordY,coordZ,diameter_mm)"))
        })
    };
    let (u, x, y, z, d) = (col("seriesuid")?, col("coordX")?, col("coordY")?, col("coordZ")?, col("diameter_mm")?);
    let mut out = Vec::new();
    for (i, rec) in rd.records().enumerate() {
        let rec = rec.map_err(|e| Error::format(path, e.to_string()))?;
        let num = |c: usize| -> Result<f64> {
            let t = rec.get(c).unwrap_or("").trim();
            t.parse().map_err(|_| Error::format(path, format!("line {}: {t:?} is not a number", i + 2)))
        };
        out.push(Annotation {
            series_uid: rec.get(u).unwrap_or("").trim().to_string(),
            center_xyz_mm: [num(x)?, num(y)?, num(z)?],
            diameter_mm: num(d)?,
        });
    }
    Ok(out)
}

/// Writes annotations.csv.
pub fn annotations_csv(rows: &[Annotation]) -> String {
    let mut s = String::from("seriesuid,coordX,coordY,coordZ,diameter_mm\n");
    for a in rows {
        let [x, y, z] = a.center_xyz_mm;
        s += &format!("{},{x},{y},{z},{}\n", a.series_uid, a.diameter_mm);
    }
    s
}

/// One raw scan.
#[derive(Debug, Clone, PartialEq)]
pub struct RawScan {
    /// Series instance UID (the file stem).
    pub uid: String,
    /// Its subset (0..9).
    pub subset: u32,
    /// The CT (.mhd).
    pub image: PathBuf,
    /// Its lung mask, if present.
    pub lungs: Option<PathBuf>,
}

/// What a raw LUNA16 folder holds.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    /// Scans by uid.
    pub scans: BTreeMap<String, RawScan>,
    /// annotations.csv rows by uid.
    pub annotations: HashMap<String, Vec<Annotation>>,
    /// LIDC XML files by the series they annotate.
    pub xml: HashMap<String, Vec<PathBuf>>,
    /// XML files that could not be read, with the reason.
    pub bad_xml: Vec<String>,
}

fn walk(root: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))? {
            let p = e.map_err(|e| Error::io(&dir, e))?.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(())
}

/// Finds the scans (subsetN/*.mhd), lung masks, annotations.csv and LIDC XML under `root`.
pub fn find_layout(root: &Path) -> Result<Layout> {
    if !root.is_dir() {
        return Err(Error::format(root, "not a folder"));
    }
    let mut files = Vec::new();
    walk(root, &mut files)?;
    let mut layout = Layout::default();
    let mut lungs: HashMap<String, PathBuf> = HashMap::new();
    let mut annotations = None;
    for p in &files {
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let parent =
            p.parent().and_then(|d| d.file_name()).map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if let Some(uid) = name.strip_suffix(".mhd") {
            if parent == "seg-lungs-LUNA16" {
                lungs.insert(uid.to_string(), p.clone());
            } else if let Some(n) = parent.strip_prefix("subset").and_then(|n| n.parse::<u32>().ok()) {
                layout
                    .scans
                    .insert(uid.to_string(), RawScan { uid: uid.into(), subset: n, image: p.clone(), lungs: None });
            }
        } else if name == "annotations.csv" && annotations.is_none() {
            annotations = Some(p.clone());
        } else if name.to_ascii_lowercase().ends_with(".xml") {
            // Only the header is needed here; the whole file is parsed when its scan is prepared.
            match crate::lidc::read_lidc_xml(p) {
                Ok(r) if !r.series_uid.is_empty() => layout.xml.entry(r.series_uid).or_default().push(p.clone()),
                Ok(_) => {}
                Err(e) => layout.bad_xml.push(e.to_string()),
            }
        }
    }
    for (uid, scan) in layout.scans.iter_mut() {
        scan.lungs = lungs.remove(uid);
    }
    let annotations = annotations.ok_or_else(|| Error::format(root, "no annotations.csv found"))?;
    for a in read_annotations(&annotations)? {
        layout.annotations.entry(a.series_uid.clone()).or_default().push(a);
    }
    Ok(layout)
}

/// The LUNA16 lung mask from the labels of seg-lungs-LUNA16: every non-zero label but the
/// smallest (the trachea) when there are three or more, closed (10) and dilated (3).
pub fn lung_mask(labels: &Array3<f32>) -> Option<Array3<bool>> {
    // Label histogram: a table for the usual small labels, a map for anything else.
    let mut small = [0u64; 256];
    let mut counts: BTreeMap<i64, u64> = BTreeMap::new();
    for &v in labels.iter() {
        if v != 0.0 {
            let l = v.round() as i64;
            match usize::try_from(l) {
                Ok(i) if i < 256 => small[i] += 1,
                _ => *counts.entry(l).or_default() += 1,
            }
        }
    }
    counts.extend(small.iter().enumerate().filter(|(_, &c)| c > 0).map(|(l, &c)| (l as i64, c)));
    if counts.is_empty() {
        return None;
    }
    let drop = if counts.len() >= 3 { counts.iter().min_by_key(|(l, c)| (**c, **l)).map(|(l, _)| *l) } else { None };
    let keep = labels.mapv(|v| v != 0.0 && Some(v.round() as i64) != drop);
    const BOUNDS: &str = "10 and 3 iterations are within the morphology's bound";
    Some(dilate(close(keep.view(), 10).expect(BOUNDS).view(), 3).expect(BOUNDS))
}

/// What the consensus of one scan found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Consensus {
    /// Nodules per reader that matched an annotation.
    pub matched_per_reader: Vec<usize>,
    /// Reader nodules far from every annotation (ignored).
    pub unmatched: usize,
    /// Annotations that some reader's nodule matched.
    pub annotations_matched: usize,
    /// Contours whose z matched no slice of the scan (dropped).
    pub rois_off_scan: usize,
    /// LIDC XML files of the series beyond the first (not read, as in the authors' code).
    pub xml_ignored: usize,
}

/// `consensus/<uid>.json` of a prepared LUNA16 folder: how one scan's readers matched its
/// annotations.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsensusRecord {
    /// annotations.csv rows of the scan.
    pub annotations: usize,
    /// Rows some reader's nodule matched.
    pub annotations_matched: usize,
    /// Matched nodules per reader.
    pub reader_nodules_matched: Vec<usize>,
    /// Reader nodules far from every annotation (ignored).
    pub reader_nodules_far: usize,
    /// Contours that fell off the scan (dropped).
    pub contours_off_scan: usize,
    /// LIDC XML files of the series beyond the first (not read).
    #[serde(default)]
    pub xml_ignored: usize,
    /// Lesion components of the prepared target.
    pub lesions: usize,
    /// Whether the scan's annotations were mirrored (the reverse list).
    pub mirrored: bool,
}

impl ConsensusRecord {
    /// The record of one prepared scan.
    pub fn new(annotations: usize, c: &Consensus, lesions: usize, mirrored: bool) -> Self {
        ConsensusRecord {
            annotations,
            annotations_matched: c.annotations_matched,
            reader_nodules_matched: c.matched_per_reader.clone(),
            reader_nodules_far: c.unmatched,
            contours_off_scan: c.rois_off_scan,
            xml_ignored: c.xml_ignored,
            lesions,
            mirrored,
        }
    }
    /// Reads one; a corrupt file is an error naming it.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        serde_json::from_str(&text).map_err(|e| Error::format(path, format!("not a consensus record: {e}")))
    }
    /// Writes it (atomically).
    pub fn write(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string(self).expect("a consensus record serialises");
        Ok(iw_core::write_file_atomically(path, text.as_bytes())?)
    }
}

/// The authors' continuous voxel index `(world - origin) / spacing` (x, y, z), the direction
/// matrix unused (`absolute2relative`, `nodules2centers`, `fill3d`).
pub fn naive_index_xyz(world_xyz_mm: [f64; 3], geometry: &Geometry) -> [f64; 3] {
    [0, 1, 2].map(|a| (world_xyz_mm[a] - geometry.origin_xyz_mm[a]) / geometry.spacing_xyz_mm[a])
}

/// The slice of a contour at world z: `int((z - origin_z) / spacing_z)`, truncated toward 0
/// (`fill3d`); `None` off the scan.
pub fn contour_slice(z_mm: f64, geometry: &Geometry, depth: usize) -> Option<usize> {
    let k = ((z_mm - geometry.origin_xyz_mm[2]) / geometry.spacing_xyz_mm[2]).trunc();
    (k.is_finite() && k >= 0.0 && k < depth as f64).then_some(k as usize)
}

/// The voxels (flat C-order indices) of one reader nodule, filled slice by slice (exclusion
/// contours cut holes), and the number of contours that fell off the scan.
pub fn nodule_voxels(nodule: &ReaderNodule, shape_zyx: [usize; 3], geometry: &Geometry) -> (Vec<usize>, usize) {
    let [d, h, w] = shape_zyx;
    let mut by_slice: BTreeMap<usize, Vec<&crate::lidc::Roi>> = BTreeMap::new();
    let mut off = 0;
    for roi in &nodule.rois {
        match contour_slice(roi.z_mm, geometry, d) {
            Some(k) => by_slice.entry(k).or_default().push(roi),
            None => off += 1,
        }
    }
    let mut voxels = Vec::new();
    for (k, rois) in by_slice {
        let contours: Vec<(bool, &[(i64, i64)])> = rois.iter().map(|r| (r.inclusion, r.points.as_slice())).collect();
        let filled = fill_contours(&contours, Some((w as i64, h as i64)));
        if filled.is_empty() {
            off += rois.len();
        }
        voxels.extend(filled.into_iter().map(|(x, y)| (k * h + y as usize) * w + x as usize));
    }
    (voxels, off)
}

/// A reader nodule's centre as the authors compute it (`nodules2centers`): the mean of every
/// contour point `(x, y, (z - origin_z) / spacing_z)` of every roi, rounded (`np.round`: half to
/// even); `[z, y, x]`. `None` for a nodule without points.
pub fn nodule_centre_zyx(nodule: &ReaderNodule, geometry: &Geometry) -> Option<[f64; 3]> {
    let (mut sum, mut n) = ([0.0f64; 3], 0usize);
    for roi in &nodule.rois {
        let z = (roi.z_mm - geometry.origin_xyz_mm[2]) / geometry.spacing_xyz_mm[2];
        for &(x, y) in &roi.points {
            sum[0] += z;
            sum[1] += y as f64;
            sum[2] += x as f64;
            n += 1;
        }
    }
    (n > 0).then(|| sum.map(|v| (v / n as f64).round_ties_even()))
}

/// The lesion target of one scan: readers' nodules whose centre ([`nodule_centre_zyx`]) lies
/// within 10 voxels of an annotation centre (`centres_zyx`, as [`annotation_voxels`] gives
/// them), filled, kept where at least `min_readers` readers agree.
pub fn consensus_target(
    reads: &[LidcRead],
    shape_zyx: [usize; 3],
    geometry: &Geometry,
    centres_zyx: &[[f64; 3]],
    min_readers: usize,
) -> (Array3<u8>, Consensus) {
    let [d, h, w] = shape_zyx;
    let mut count = vec![0u8; d * h * w];
    let mut stats = Consensus::default();
    let mut matched_annotations = HashSet::new();
    for reader in reads.iter().flat_map(|r| r.readers.iter()) {
        let mut mine: HashSet<usize> = HashSet::new();
        let mut matched = 0;
        for nodule in &reader.nodules {
            let (vox, off) = nodule_voxels(nodule, shape_zyx, geometry);
            stats.rois_off_scan += off;
            let Some(c) = nodule_centre_zyx(nodule, geometry) else { continue };
            let near: Vec<usize> = centres_zyx
                .iter()
                .enumerate()
                .filter(|(_, a)| {
                    ((a[0] - c[0]).powi(2) + (a[1] - c[1]).powi(2) + (a[2] - c[2]).powi(2)).sqrt() <= MATCH_VOXELS
                })
                .map(|(i, _)| i)
                .collect();
            if near.is_empty() {
                stats.unmatched += 1;
                continue;
            }
            matched += 1;
            matched_annotations.extend(near);
            mine.extend(vox);
        }
        stats.matched_per_reader.push(matched);
        for i in mine {
            count[i] = count[i].saturating_add(1);
        }
    }
    stats.annotations_matched = matched_annotations.len();
    let target =
        Array3::from_shape_vec((d, h, w), count.into_iter().map(|c| u8::from(c as usize >= min_readers)).collect())
            .expect("shape");
    (target, stats)
}

/// Annotation centres of a scan as the authors index them, `[z, y, x]`:
/// `round((world - origin) / spacing)`; `mirror` (the reverse list) first replaces x and y by
/// `2 origin - world` (`get_set` in the authors' notebook).
pub fn annotation_voxels(annotations: &[Annotation], geometry: &Geometry, mirror: bool) -> Vec<[f64; 3]> {
    let o = geometry.origin_xyz_mm;
    annotations
        .iter()
        .map(|a| {
            let [x, y, z] = a.center_xyz_mm;
            let w = if mirror { [2.0 * o[0] - x, 2.0 * o[1] - y, z] } else { [x, y, z] };
            let i = naive_index_xyz(w, geometry).map(f64::round_ties_even);
            [i[2], i[1], i[0]]
        })
        .collect()
}

/// Prepares one scan into `cases_dir/<uid>`. `Ok(Err(skip))` when the scan cannot be used.
pub fn prepare_case(
    cases_dir: &Path,
    scan: &RawScan,
    annotations: &[Annotation],
    xml: &[PathBuf],
    mirror: bool,
) -> Result<std::result::Result<(CaseMeta, Consensus), Skip>> {
    let Some(lung_path) = &scan.lungs else {
        return Ok(Err(Skip("no lung mask in seg-lungs-LUNA16".into())));
    };
    if !annotations.is_empty() && xml.is_empty() {
        return Ok(Err(Skip(format!("{} annotated nodule(s) but no LIDC XML for the series", annotations.len()))));
    }
    let image = read_volume(&scan.image)?.to_f32();
    crate::require_finite(&image, &scan.image, "image")?;
    let labels = read_volume(lung_path)?.to_f32();
    crate::require_finite(&labels, lung_path, "mask")?;
    let shape = image.shape_zyx();
    if labels.shape_zyx() != shape {
        let (a, b) = (shape, labels.shape_zyx());
        return Ok(Err(Skip(format!(
            "CT {} x {} x {} and lung mask {} x {} x {} (x, y, z) differ",
            a[2], a[1], a[0], b[2], b[1], b[0]
        ))));
    }
    let Some(lungs) = lung_mask(&labels.data) else {
        return Ok(Err(Skip("the lung mask is empty".into())));
    };
    // The first XML of the series only, as the authors' `id2root`.
    let reads = xml.iter().take(1).map(|p| crate::lidc::read_lidc_xml(p)).collect::<Result<Vec<_>>>()?;
    let centres = annotation_voxels(annotations, &image.geometry, mirror);
    let (target, mut consensus) = consensus_target(&reads, shape, &image.geometry, &centres, READERS / 2);
    consensus.xml_ignored = xml.len().saturating_sub(1);
    let (start, end) = bounding_box(lungs.view(), 5, |_, &m| m).expect("a non-empty lung mask dilated stays non-empty");
    let min = image.data.iter().copied().fold(f32::INFINITY, f32::min);
    let mut masked = image.clone();
    ndarray::Zip::from(&mut masked.data).and(&lungs).for_each(|v, &m| {
        if !m {
            *v = min;
        }
    });
    let img = crop(&masked, start, end);
    let t = target.slice(ndarray::s![start[0]..end[0], start[1]..end[1], start[2]..end[2]]).to_owned();
    let mut sources = vec![scan.image.display().to_string(), lung_path.display().to_string()];
    sources.extend(xml.iter().take(1).map(|p| p.display().to_string()));
    // The sampler draws scans by their annotations.csv rows (the authors' `n_tumors`).
    let weight = Some(annotations.len() as f64);
    let crop = crate::prepared::CropOrigin { start_zyx: start, source_shape_zyx: shape };
    let meta = write_case_channels(cases_dir, &scan.uid, std::slice::from_ref(&img), &t, crop, sources, weight)?;
    Ok(Ok((meta, consensus)))
}
