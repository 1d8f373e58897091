//! The lesion gallery: for every test lesion (and every false-positive component), three
//! orthogonal slices through its centre, cut from the prepared volume and the saved probability
//! maps (no inference), with the ground-truth contour and each configuration's contour at
//! p > 0.5.
//!
//! A view is a small grey PNG at the crop's own resolution (the browser scales it, pixelated)
//! under an SVG of contours: each contour is the outline of the mask's pixels, so it is exact at
//! any zoom and costs a few bytes. Found / missed come from each configuration's
//! `prc_records.json` (a lesion is found when a predicted component overlaps it: `hit_dice > 0`),
//! the same records as every table; the components are numbered as `iw evaluate` numbers them
//! (26-connected, C order), and a mismatch with the records is an error.
use crate::error::{Error, Result};
use base64::Engine as _;
use iw_core::{label, Components, Connectivity};
use iw_data::prepared::PreparedCase;
use iw_metrics::{read_records, LesionRecord};
use ndarray::{Array3, ArrayView3};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One configuration's run shown in the gallery.
#[derive(Debug, Clone)]
pub struct GalleryRun {
    /// Configuration (method) name.
    pub method: String,
    /// Its run folder (`.../experiment_<k>`): a label in the gallery's data.
    pub dir: PathBuf,
    /// Its lesion records (prc_records.json of `iw evaluate`).
    pub records: PathBuf,
    /// Its probability volume of each case (`iw predict`'s float32 probabilities), by case id;
    /// a case without one is drawn without this run's prediction.
    pub probabilities: BTreeMap<String, PathBuf>,
}

/// What the gallery is cut from.
#[derive(Debug, Clone)]
pub struct GallerySource {
    /// The prepared dataset (`cases/<id>/`).
    pub prepared: PathBuf,
    /// The dataset's intensity window (HU), `None`: the case's intensity range.
    pub window: Option<[f64; 2]>,
    /// The runs, one per configuration.
    pub runs: Vec<GalleryRun>,
    /// Small lesions: diameter below this (voxels).
    pub small_below: f64,
    /// At most this many lesion tiles (smallest first).
    pub max_lesions: usize,
    /// At most this many false-positive tiles per configuration (largest first).
    pub max_false_positives: usize,
}

/// The first tiles of `lesions` and then of `false_positives` (lesions smallest first, false
/// positives largest first) whose [`tile_bytes`] fit in `budget` together, in order: the tiles a
/// page with a byte budget keeps.
pub fn within(lesions: &[Tile], false_positives: &[Tile], budget: usize) -> (Vec<Tile>, Vec<Tile>) {
    let mut used = 0usize;
    let mut keep = |tiles: &[Tile]| -> Vec<Tile> {
        tiles
            .iter()
            .take_while(|t| {
                used += tile_bytes(t);
                used <= budget
            })
            .cloned()
            .collect()
    };
    (keep(lesions), keep(false_positives))
}

/// Bytes a tile adds to the page: its images and outlines, and about 600 of markup.
pub fn tile_bytes(t: &Tile) -> usize {
    600 + t
        .views
        .iter()
        .map(|v| 200 + v.png.len() + v.gt.len() + v.pred.iter().map(String::len).sum::<usize>())
        .sum::<usize>()
}

/// One of the three slices of a tile.
#[derive(Debug, Clone, Serialize)]
pub struct View {
    /// `axial`, `coronal` or `sagittal`.
    pub name: &'static str,
    /// `data:image/png;base64,...` of the grey crop.
    pub png: String,
    /// Crop width and height, pixels.
    pub w: usize,
    /// Crop height.
    pub h: usize,
    /// Displayed width and height, CSS pixels (mm-true aspect).
    pub css_w: usize,
    /// Displayed height.
    pub css_h: usize,
    /// Ground-truth outline (SVG path in crop pixels; empty when none in this slice).
    pub gt: String,
    /// Per configuration (gallery order): its outline at p > 0.5.
    pub pred: Vec<String>,
}

/// A ground-truth lesion or a false-positive component.
#[derive(Debug, Clone, Serialize)]
pub struct Tile {
    /// Case id.
    pub case: String,
    /// `tum_<k>` or `pred_<k>`.
    pub obj: String,
    /// For a false positive: the configuration that predicted it.
    pub by: Option<String>,
    /// Diameter `(6 V / pi)^(1/3)`, voxels.
    pub diameter: f64,
    /// Voxels.
    pub voxels: u64,
    /// Below the small-lesion threshold.
    pub small: bool,
    /// Centre voxel, x, y, z.
    pub centre_xyz: [usize; 3],
    /// Per configuration: found at p > 0.5 (lesions only).
    pub found: Vec<bool>,
    /// `found` as a string of 0/1, for the page's filters.
    pub found_mask: String,
    /// The three views.
    pub views: Vec<View>,
}

/// The gallery.
#[derive(Debug, Clone, Serialize)]
pub struct Gallery {
    /// Configuration names, in the order of `found` and `pred`.
    pub methods: Vec<String>,
    /// Run folders shown, in that order.
    pub runs: Vec<String>,
    /// Lesions of the test cases, smallest first.
    pub lesions: Vec<Tile>,
    /// Test lesions in all (before the cap).
    pub lesions_total: usize,
    /// False-positive components, largest first, at most `max_false_positives` per configuration.
    pub false_positives: Vec<Tile>,
    /// False-positive components in all (before the cap).
    pub false_positives_total: usize,
}

fn grey_png(pixels: &[u8], w: usize, h: usize) -> Result<String> {
    let mut bytes = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut bytes, w as u32, h as u32);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Eight);
        let mut wr =
            enc.write_header().map_err(|e| Error::format(Path::new("<png>"), format!("encoding a thumbnail: {e}")))?;
        wr.write_image_data(pixels)
            .map_err(|e| Error::format(Path::new("<png>"), format!("encoding a thumbnail: {e}")))?;
    }
    Ok(format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(bytes)))
}

/// The outline of the pixels where `inside(col, row)` holds, on a `w x h` grid: one unit edge per
/// inside pixel side that borders an outside pixel (or the crop's border), as an SVG path.
pub fn outline(w: usize, h: usize, inside: impl Fn(usize, usize) -> bool) -> String {
    let mut d = String::new();
    let at =
        |c: isize, r: isize| c >= 0 && r >= 0 && (c as usize) < w && (r as usize) < h && inside(c as usize, r as usize);
    for r in 0..h as isize {
        for c in 0..w as isize {
            if !at(c, r) {
                continue;
            }
            if !at(c, r - 1) {
                d += &format!("M{c} {r}h1");
            }
            if !at(c, r + 1) {
                d += &format!("M{c} {}h1", r + 1);
            }
            if !at(c - 1, r) {
                d += &format!("M{c} {r}v1");
            }
            if !at(c + 1, r) {
                d += &format!("M{} {r}v1", c + 1);
            }
        }
    }
    d
}

/// A crop of one plane: `(row, col) -> voxel [z, y, x]` or outside the volume.
struct Plane {
    name: &'static str,
    w: usize,
    h: usize,
    /// mm per column and per row.
    mm: [f64; 2],
    voxel: Box<dyn Fn(usize, usize) -> Option<[usize; 3]>>,
}

fn planes(shape: [usize; 3], spacing_xyz: [f64; 3], centre: [usize; 3], extent_zyx: [usize; 3]) -> Vec<Plane> {
    let [nz, ny, nx] = shape;
    let [cz, cy, cx] = centre;
    let (sx, sy, sz) = (spacing_xyz[0], spacing_xyz[1], spacing_xyz[2]);
    // Field of view: twice the lesion plus a margin, 32..128 voxels in-plane, the same mm along z.
    let fov_mm = ((2 * extent_zyx[1].max(extent_zyx[2]) + 16).clamp(32, 128)) as f64 * sx.min(sy);
    let fov_mm = fov_mm.max(extent_zyx[0] as f64 * sz * 2.0).min(128.0 * sx.max(sy));
    let n = |mm: f64, s: f64| ((mm / s).round() as usize).clamp(8, 256);
    let (wx, wy, wz) = (n(fov_mm, sx), n(fov_mm, sy), n(fov_mm, sz));
    let off = |c: usize, len: usize, r: usize| -> Option<usize> {
        let v = c as isize - (len / 2) as isize + r as isize;
        (v >= 0).then_some(v as usize)
    };
    vec![
        Plane {
            name: "axial",
            w: wx,
            h: wy,
            mm: [sx, sy],
            voxel: Box::new(move |r, c| {
                let (y, x) = (off(cy, wy, r)?, off(cx, wx, c)?);
                (y < ny && x < nx).then_some([cz, y, x])
            }),
        },
        Plane {
            name: "coronal",
            w: wx,
            h: wz,
            mm: [sx, sz],
            voxel: Box::new(move |r, c| {
                // Superior (larger z) at the top.
                let (z, x) = (off(cz, wz, wz - 1 - r)?, off(cx, wx, c)?);
                (z < nz && x < nx).then_some([z, cy, x])
            }),
        },
        Plane {
            name: "sagittal",
            w: wy,
            h: wz,
            mm: [sy, sz],
            voxel: Box::new(move |r, c| {
                let (z, y) = (off(cz, wz, wz - 1 - r)?, off(cy, wy, c)?);
                (z < nz && y < ny).then_some([z, y, cx])
            }),
        },
    ]
}

/// A test case's volumes: the windowed image (0..255), the ground-truth components and each
/// configuration's predicted components.
struct CaseVolumes {
    grey: Array3<u8>,
    spacing: [f64; 3],
    gt: Components,
    pred: Vec<Option<Components>>,
}

const THUMB_PX: f64 = 96.0;

fn tile_views(cv: &CaseVolumes, centre: [usize; 3], extent: [usize; 3]) -> Result<Vec<View>> {
    let mut views = Vec::new();
    for p in planes(cv.grey.dim().into(), cv.spacing, centre, extent) {
        let mut px = vec![0u8; p.w * p.h];
        let mut vox = vec![None; p.w * p.h];
        for r in 0..p.h {
            for c in 0..p.w {
                vox[r * p.w + c] = (p.voxel)(r, c);
                if let Some([z, y, x]) = vox[r * p.w + c] {
                    px[r * p.w + c] = cv.grey[[z, y, x]];
                }
            }
        }
        let mask_outline = |labels: &Array3<u32>| {
            outline(p.w, p.h, |c, r| vox[r * p.w + c].is_some_and(|[z, y, x]| labels[[z, y, x]] > 0))
        };
        let (mw, mh) = (p.w as f64 * p.mm[0], p.h as f64 * p.mm[1]);
        let scale = THUMB_PX / mw.max(mh);
        views.push(View {
            name: p.name,
            png: grey_png(&px, p.w, p.h)?,
            w: p.w,
            h: p.h,
            css_w: (mw * scale).round().max(1.0) as usize,
            css_h: (mh * scale).round().max(1.0) as usize,
            gt: mask_outline(&cv.gt.labels),
            pred: cv.pred.iter().map(|c| c.as_ref().map(|c| mask_outline(&c.labels)).unwrap_or_default()).collect(),
        });
    }
    Ok(views)
}

fn centroid(labels: ArrayView3<'_, u32>, comp: &iw_core::Component) -> [usize; 3] {
    let (b0, b1) = (comp.bbox.min_zyx, comp.bbox.max_zyx);
    let (mut s, mut n) = ([0f64; 3], 0f64);
    for z in b0[0]..=b1[0] {
        for y in b0[1]..=b1[1] {
            for x in b0[2]..=b1[2] {
                if labels[[z, y, x]] == comp.label {
                    s[0] += z as f64;
                    s[1] += y as f64;
                    s[2] += x as f64;
                    n += 1.0;
                }
            }
        }
    }
    [0, 1, 2].map(|a| (s[a] / n.max(1.0)).round() as usize)
}

fn diameter(voxels: u64) -> f64 {
    (6.0 * voxels as f64 / std::f64::consts::PI).cbrt()
}

fn load_case(src: &GallerySource, id: &str) -> Result<CaseVolumes> {
    let case = PreparedCase::open(&src.prepared.join("cases"), id)?;
    let [d, h, w] = case.meta.shape_zyx;
    let img = case.channel(0);
    let (lo, hi) = match src.window {
        Some([a, b]) => (a, b),
        None => (case.meta.channel_min(0), case.meta.intensity_max),
    };
    let scale = if hi > lo { 255.0 / (hi - lo) } else { 0.0 };
    let grey: Vec<u8> = img.iter().map(|&v| ((v as f64 - lo) * scale).clamp(0.0, 255.0).round() as u8).collect();
    let grey = Array3::from_shape_vec((d, h, w), grey).expect("the prepared shape");
    let mask = ndarray::ArrayView3::from_shape((d, h, w), case.mask()).expect("the prepared shape");
    let gt = label(mask, Connectivity::C26);
    let mut pred = Vec::new();
    for run in &src.runs {
        let Some(p) = run.probabilities.get(id).filter(|p| p.is_file()) else {
            pred.push(None);
            continue;
        };
        let v = iw_io::read_volume(p)?.to_f32();
        if v.data.dim() != (d, h, w) {
            return Err(Error::format(
                p,
                format!("shape {:?} is not the prepared case's {:?} [z, y, x]", v.data.dim(), (d, h, w)),
            ));
        }
        let m = v.data.mapv(|x| u8::from(x > 0.5));
        pred.push(Some(label(m.view(), Connectivity::C26)));
    }
    Ok(CaseVolumes { grey, spacing: case.meta.spacing_xyz_mm, gt, pred })
}

fn record_of<'a>(recs: &'a [LesionRecord], obj: &str) -> Option<&'a LesionRecord> {
    recs.iter().find(|r| r.obj == obj)
}

/// Builds the gallery of `src`.
pub fn build(src: &GallerySource) -> Result<Gallery> {
    let mut records = Vec::new();
    for run in &src.runs {
        records.push(read_records(&run.records)?);
    }
    let mut cases: Vec<String> = records.iter().flat_map(|r| r.keys().cloned()).collect();
    cases.sort();
    cases.dedup();
    let methods: Vec<String> = src.runs.iter().map(|r| r.method.clone()).collect();
    // Pass 1: what each tile is (cheap); pass 2: views for the tiles kept.
    struct Pending {
        tile: Tile,
        label: u32,
        config: Option<usize>,
    }
    let mut lesions: Vec<Pending> = Vec::new();
    let mut fps: Vec<Pending> = Vec::new();
    let mut volumes: BTreeMap<String, CaseVolumes> = BTreeMap::new();
    for id in &cases {
        let cv = load_case(src, id)?;
        for (k, recs) in records.iter().enumerate() {
            let Some(recs) = recs.get(id) else { continue };
            let n_tum = recs.iter().filter(|r| r.is_tum).count();
            let file = &src.runs[k].records;
            if n_tum != cv.gt.count() {
                return Err(Error::format(
                    file,
                    format!("case {id}: {n_tum} lesion records but the prepared mask has {} lesions", cv.gt.count()),
                ));
            }
            if let Some(pc) = &cv.pred[k] {
                let n_pred = recs.iter().filter(|r| !r.is_tum).count();
                if n_pred != pc.count() {
                    return Err(Error::format(
                        file,
                        format!("case {id}: {n_pred} predicted-component records but the probability map has {} components at p > 0.5", pc.count()),
                    ));
                }
                for c in &pc.components {
                    let obj = format!("pred_{}", c.label);
                    if record_of(recs, &obj).is_some_and(|r| r.hit_dice == 0.0) {
                        let d = diameter(c.voxels);
                        fps.push(Pending {
                            tile: Tile {
                                case: id.clone(),
                                obj,
                                by: Some(methods[k].clone()),
                                diameter: d,
                                voxels: c.voxels,
                                small: d < src.small_below,
                                centre_xyz: [0; 3],
                                found: vec![],
                                found_mask: String::new(),
                                views: vec![],
                            },
                            label: c.label,
                            config: Some(k),
                        });
                    }
                }
            }
        }
        for c in &cv.gt.components {
            let obj = format!("tum_{}", c.label);
            let found: Vec<bool> = records
                .iter()
                .map(|r| r.get(id).and_then(|recs| record_of(recs, &obj)).is_some_and(|r| r.hit_dice > 0.0))
                .collect();
            let d = diameter(c.voxels);
            lesions.push(Pending {
                tile: Tile {
                    case: id.clone(),
                    obj,
                    by: None,
                    diameter: d,
                    voxels: c.voxels,
                    small: d < src.small_below,
                    centre_xyz: [0; 3],
                    found_mask: found.iter().map(|&f| if f { '1' } else { '0' }).collect(),
                    found,
                    views: vec![],
                },
                label: c.label,
                config: None,
            });
        }
        volumes.insert(id.clone(), cv);
    }
    lesions.sort_by(|a, b| a.tile.diameter.total_cmp(&b.tile.diameter));
    let lesions_total = lesions.len();
    lesions.truncate(src.max_lesions);
    fps.sort_by_key(|p| std::cmp::Reverse(p.tile.voxels));
    let false_positives_total = fps.len();
    let mut per_config = vec![0usize; methods.len()];
    fps.retain(|p| {
        let k = p.config.expect("a false positive has its configuration");
        per_config[k] += 1;
        per_config[k] <= src.max_false_positives
    });
    let mut finish = |p: Pending| -> Result<Tile> {
        let cv = &volumes[&p.tile.case];
        let comps = match p.config {
            None => &cv.gt,
            Some(k) => cv.pred[k].as_ref().expect("a false positive's prediction was read"),
        };
        let comp = comps.components[p.label as usize - 1];
        let centre = centroid(comps.labels.view(), &comp);
        let views = tile_views(cv, centre, comp.bbox.shape_zyx())?;
        Ok(Tile { centre_xyz: [centre[2], centre[1], centre[0]], views, ..p.tile })
    };
    let lesions = lesions.into_iter().map(&mut finish).collect::<Result<Vec<_>>>()?;
    let false_positives = fps.into_iter().map(&mut finish).collect::<Result<Vec<_>>>()?;
    Ok(Gallery {
        methods,
        runs: src.runs.iter().map(|r| r.dir.display().to_string()).collect(),
        lesions,
        lesions_total,
        false_positives,
        false_positives_total,
    })
}

#[cfg(test)]
mod tests {
    use super::outline;

    #[test]
    fn outline_of_one_pixel_is_its_four_sides() {
        assert_eq!(outline(3, 3, |c, r| c == 1 && r == 1), "M1 1h1M1 2h1M1 1v1M2 1v1");
        // Two pixels side by side: six unit edges, none between them.
        let d = outline(3, 1, |c, _| c < 2);
        assert_eq!(d.matches('h').count() + d.matches('v').count(), 6);
    }
}
