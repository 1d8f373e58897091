//! `iw segment`: a trained run applied to the user's own scans. Everything but the network is
//! here (no libtorch): finding the run's configuration and checkpoint, the scans and their
//! outputs, the run's preprocessing (region of interest, intensity window or scaling), the mask
//! at the threshold, the lesion table and the summary. `iw-torch` passes the network in as a
//! closure ([`segment`]'s `predict`).
//!
//! Per scan `<name>` (the file name without its extension, or the DICOM folder's name), in the
//! output folder and in the scan's own grid and geometry, in the scan's format where iw writes
//! it (NIfTI, MetaImage, NRRD; DICOM scans get `.nii.gz`):
//!
//! * `<name>_prob.<ext>`: float32 lesion probabilities (0 outside the region of interest),
//! * `<name>_mask.<ext>`: uint8, 1 where the probability exceeds the threshold,
//! * `<name>_lesions.csv`: one row per connected component of the mask, by score (its
//!   maximum probability, then its size): id, voxels, volume in mm^3, equivalent diameter in
//!   mm, centroid in world LPS mm, bounding box (voxel indices, inclusive), max and mean
//!   probability,
//! * with `--overlay-png`, `<name>_overlay.png`: the axial slice through the top lesion with
//!   the mask's outlines ([`iw_report::overlay`]; its tEXt chunk `iw:slice_z` names the slice),
//!
//! and `segment_summary.csv` over the scans of the command. A scan whose three outputs exist is
//! skipped (a rerun resumes); a scan that cannot be read or segmented is one line on stderr and
//! the others go on; the command then exits 2.
use anyhow::{bail, Context};
use iw_core::{label as cc_label, Connectivity, Geometry, Volume};
use iw_io::{read_volume, write_file_atomically, write_volume};
use std::path::{Path, PathBuf};
use std::time::Instant;

use iw_run::cli::{SegmentArgs, LESIONS_HEADER};
use iw_run::{Experiment, RunDir};

/// The run's configuration and checkpoint named by `a.model` (and `a.config`).
pub fn resolve_model(a: &SegmentArgs) -> anyhow::Result<(Experiment, PathBuf)> {
    let m = &a.model;
    let (checkpoint, near) = if m.is_dir() {
        let run = RunDir::new(m);
        (run.final_checkpoint(), vec![run.config()])
    } else if m.is_file() {
        // A checkpoint in a run folder's checkpoints/, or beside a config.yaml.
        let dir = m.parent().unwrap_or(Path::new("."));
        (m.clone(), vec![RunDir::new(dir).config(), RunDir::new(dir.join("..")).config()])
    } else {
        bail!("{}: no such run folder or checkpoint", m.display());
    };
    if !checkpoint.is_file() {
        bail!("{}: no trained model (run `iw train` first, or name a checkpoint)", checkpoint.display());
    }
    let config = match &a.config {
        Some(c) => c.clone(),
        None => near.into_iter().find(|p| p.is_file()).ok_or_else(|| {
            anyhow::anyhow!("{}: no config.yaml beside the checkpoint or above it; give --config", m.display())
        })?,
    };
    let exp = Experiment::load(&config, &[])
        .with_context(|| format!("reading the run's configuration {}", config.display()))?;
    if !(a.threshold > 0.0 && a.threshold < 1.0) {
        bail!("--threshold {}: must be in (0, 1)", a.threshold);
    }
    Ok((exp, checkpoint))
}

/// The intensity mapping of the run, applied to a whole scan before its crop (`Scaling`) or to
/// the crop (`Window`: clip, then min-max by the crop's clipped range, as `scaled_image`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Intensity {
    /// CT: the run's window.
    Window([f64; 2]),
    /// What `iw prepare nnunet` applies per channel.
    Scaling(iw_data::nnunet::Scaling),
}

impl Intensity {
    /// The mapping of `exp` with the user's `--scaling`.
    pub fn of(exp: &Experiment, scaling: Option<&str>) -> anyhow::Result<Intensity> {
        match (exp.dataset.window, scaling) {
            (Some(w), None) => Ok(Intensity::Window(w)),
            (Some(w), Some(_)) => {
                bail!("--scaling: the run clips intensities to its window {w:?} (dataset.window); drop --scaling")
            }
            (None, Some(s)) => {
                Ok(Intensity::Scaling(s.parse().map_err(|e: String| anyhow::anyhow!("--scaling: {e}"))?))
            }
            (None, None) => bail!(
                "the run has no intensity window (dataset.window: null: its images were scaled by `iw prepare`): \
                 give --scaling none, zscore or percentile[:LO,HI], as prepared"
            ),
        }
    }

    fn describe(&self) -> String {
        match self {
            Intensity::Window(w) => format!("window [{}, {}] then min-max", w[0], w[1]),
            Intensity::Scaling(s) => format!("scaling {s:?}"),
        }
    }
}

/// One scan to segment.
#[derive(Debug, Clone)]
pub struct Scan {
    /// Its file or DICOM folder.
    pub path: PathBuf,
    /// The name its outputs start with.
    pub name: String,
    /// The extension of its outputs (`.nii.gz`, `.nrrd`, ...).
    pub ext: &'static str,
}

impl Scan {
    fn output(&self, out: &Path, what: &str) -> PathBuf {
        out.join(format!("{}_{what}{}", self.name, self.ext))
    }
    /// `<name>_overlay.png` (`--overlay-png`).
    pub fn overlay(&self, out: &Path) -> PathBuf {
        out.join(format!("{}_overlay.png", self.name))
    }

    /// Its three output files: probabilities, mask, lesion table.
    pub fn outputs(&self, out: &Path) -> [PathBuf; 3] {
        [self.output(out, "prob"), self.output(out, "mask"), out.join(format!("{}_lesions.csv", self.name))]
    }
}

const VOLUME_EXTS: [(&str, &str); 7] = [
    (".nii.gz", ".nii.gz"),
    (".nii", ".nii"),
    (".mha", ".mha"),
    (".mhd", ".mhd"),
    (".nrrd", ".nrrd"),
    (".nhdr", ".nhdr"),
    (".dcm", ".nii.gz"),
];

/// The name and output extension of a scan file; `None` for other files.
fn scan_name(path: &Path) -> Option<(String, &'static str)> {
    let file = path.file_name()?.to_string_lossy().into_owned();
    let lower = file.to_ascii_lowercase();
    VOLUME_EXTS
        .iter()
        .find(|(e, _)| lower.ends_with(e))
        .map(|(e, out)| (file[..file.len() - e.len()].to_string(), *out))
}

/// The scans the arguments name: files, DICOM folders, folders of volume files (sorted).
pub fn find_scans(args: &[PathBuf]) -> anyhow::Result<Vec<Scan>> {
    let mut scans = Vec::new();
    for a in args {
        if a.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(a)
                .with_context(|| format!("listing {}", a.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && scan_name(p).is_some())
                .collect();
            files.sort();
            // The detached data of .mhd / .nhdr headers are not scans; nor are .dcm slices.
            let volumes: Vec<PathBuf> = files.into_iter().filter(|p| !is_dcm(p)).collect();
            if volumes.is_empty() {
                let name = a
                    .canonicalize()
                    .unwrap_or(a.clone())
                    .file_name()
                    .map_or("dicom".into(), |n| n.to_string_lossy().into_owned());
                scans.push(Scan { path: a.clone(), name, ext: ".nii.gz" });
            } else {
                for p in volumes {
                    let (name, ext) = scan_name(&p).expect("filtered");
                    scans.push(Scan { path: p, name, ext });
                }
            }
        } else if a.is_file() {
            let (name, ext) = scan_name(a).ok_or_else(|| {
                anyhow::anyhow!(
                    "{}: not a scan (expected .nii, .nii.gz, .mhd, .mha, .nrrd, .nhdr, .dcm or a DICOM folder)",
                    a.display()
                )
            })?;
            scans.push(Scan { path: a.clone(), name, ext });
        } else {
            bail!("{}: no such file or folder", a.display());
        }
    }
    let mut names: Vec<&str> = scans.iter().map(|s| s.name.as_str()).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        bail!(
            "two scans are named {:?}: their outputs would collide (segment them into different --out folders)",
            w[0]
        );
    }
    Ok(scans)
}

fn is_dcm(p: &Path) -> bool {
    p.to_string_lossy().to_ascii_lowercase().ends_with(".dcm")
}

/// The ROI mask of a scan: `--roi FILE` (one scan) or `--roi DIR` (the file named like it).
fn roi_for(roi: &Path, scan: &Scan, n_scans: usize) -> anyhow::Result<PathBuf> {
    if roi.is_dir() {
        let found = std::fs::read_dir(roi)
            .with_context(|| format!("listing {}", roi.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| scan_name(p).is_some_and(|(n, _)| n == scan.name));
        found.ok_or_else(|| anyhow::anyhow!("{}: no ROI mask named {}.* for this scan", roi.display(), scan.name))
    } else if n_scans == 1 {
        Ok(roi.to_path_buf())
    } else {
        bail!("--roi {}: one mask for {n_scans} scans; give a folder of masks named like the scans", roi.display())
    }
}

/// One lesion of a scan's mask.
#[derive(Debug, Clone, PartialEq)]
pub struct Lesion {
    /// Rank by score, 1 = most confident.
    pub id: usize,
    /// Voxels.
    pub voxels: u64,
    /// Volume, mm^3.
    pub volume_mm3: f64,
    /// Diameter of the ball of that volume, mm.
    pub diameter_mm: f64,
    /// Centroid, world LPS mm (x, y, z).
    pub centroid_mm: [f64; 3],
    /// First voxel of the bounding box, (x, y, z) indices.
    pub bbox_min_xyz: [usize; 3],
    /// Last voxel of the bounding box, inclusive.
    pub bbox_max_xyz: [usize; 3],
    /// Largest probability in the lesion.
    pub max_prob: f64,
    /// Mean probability in the lesion.
    pub mean_prob: f64,
}

/// The volume of one voxel, mm^3 (|det| of the voxel axes).
pub fn voxel_volume(g: &Geometry) -> f64 {
    let d = &g.direction;
    let det = d[0][0] * (d[1][1] * d[2][2] - d[1][2] * d[2][1]) - d[0][1] * (d[1][0] * d[2][2] - d[1][2] * d[2][0])
        + d[0][2] * (d[1][0] * d[2][1] - d[1][1] * d[2][0]);
    det.abs() * g.spacing_xyz_mm.iter().product::<f64>()
}

/// The lesions of `mask` (components at `connectivity`) with their probabilities, by score.
pub fn lesions(mask: &Volume<u8>, prob: &Volume<f32>, connectivity: Connectivity) -> Vec<Lesion> {
    let cc = cc_label(mask.data.view(), connectivity);
    let k = cc.count();
    let mut sum_idx = vec![[0f64; 3]; k];
    let mut sum_p = vec![0f64; k];
    let mut max_p = vec![f64::NEG_INFINITY; k];
    for (((z, y, x), &l), &p) in cc.labels.indexed_iter().zip(prob.data.iter()) {
        if l > 0 {
            let i = l as usize - 1;
            sum_idx[i][0] += x as f64;
            sum_idx[i][1] += y as f64;
            sum_idx[i][2] += z as f64;
            sum_p[i] += p as f64;
            max_p[i] = max_p[i].max(p as f64);
        }
    }
    let vv = voxel_volume(&mask.geometry);
    let mut out: Vec<Lesion> = cc
        .components
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let n = c.voxels as f64;
            let volume = n * vv;
            let [bz0, by0, bx0] = c.bbox.min_zyx;
            let [bz1, by1, bx1] = c.bbox.max_zyx;
            Lesion {
                id: 0,
                voxels: c.voxels,
                volume_mm3: volume,
                diameter_mm: (6.0 * volume / std::f64::consts::PI).cbrt(),
                centroid_mm: mask.geometry.index_xyz_to_world(sum_idx[i].map(|s| s / n)),
                bbox_min_xyz: [bx0, by0, bz0],
                bbox_max_xyz: [bx1, by1, bz1],
                max_prob: max_p[i],
                mean_prob: sum_p[i] / n,
            }
        })
        .collect();
    out.sort_by(|a, b| b.max_prob.total_cmp(&a.max_prob).then(b.voxels.cmp(&a.voxels)));
    for (i, l) in out.iter_mut().enumerate() {
        l.id = i + 1;
    }
    out
}

/// The lesion table as CSV text.
pub fn lesions_csv(lesions: &[Lesion]) -> String {
    let mut s = format!("{LESIONS_HEADER}\n");
    for l in lesions {
        let [cx, cy, cz] = l.centroid_mm;
        let [x0, y0, z0] = l.bbox_min_xyz;
        let [x1, y1, z1] = l.bbox_max_xyz;
        s += &format!(
            "{},{},{:.6},{:.6},{cx:.6},{cy:.6},{cz:.6},{x0},{y0},{z0},{x1},{y1},{z1},{:.7},{:.7}\n",
            l.id, l.voxels, l.volume_mm3, l.diameter_mm, l.max_prob, l.mean_prob
        );
    }
    s
}

/// What the network gets: `[c = 1, z, y, x]` scaled intensities of the region of interest.
pub struct NetworkInput {
    /// Voxels, C-order `[z, y, x]`.
    pub image: Vec<f32>,
    /// Shape `[z, y, x]`.
    pub shape_zyx: [usize; 3],
}

/// Where a scan's region of interest lies and how it was chosen.
struct Roi {
    start: [usize; 3],
    end: [usize; 3],
    said: String,
    /// LUNA16: the lung mask outside which the CT is set to its minimum.
    outside_to_min: Option<ndarray::Array3<bool>>,
}

/// The region of interest of a scan: the whole scan; or `--roi`'s mask, its bounding box + 5
/// voxels (LiTS' rule); for a LUNA16 run `--roi` is the seg-lungs-LUNA16 label map, made into
/// the lung mask as `iw prepare luna16` does (every label but the trachea, closed, dilated), and
/// the CT is also set to its minimum outside the lungs, as prepared.
fn roi_of(scan: &Scan, shape: [usize; 3], roi: Option<&Path>, n_scans: usize, luna16: bool) -> anyhow::Result<Roi> {
    let Some(roi) = roi else {
        return Ok(Roi { start: [0; 3], end: shape, said: "whole scan".into(), outside_to_min: None });
    };
    let path = roi_for(roi, scan, n_scans)?;
    let m = read_volume(&path)?;
    if m.shape_zyx() != shape {
        let (a, b) = (m.shape_zyx(), shape);
        bail!(
            "{}: ROI mask {} x {} x {} differs from the scan's {} x {} x {} (x, y, z)",
            path.display(),
            a[2],
            a[1],
            a[0],
            b[2],
            b[1],
            b[0]
        );
    }
    iw_run::outputs::check_finite_mask(&m, &path)?;
    if luna16 {
        let Some(lungs) = iw_data::luna16::lung_mask(&m.to_f32().data) else {
            bail!("{}: the lung mask is empty", path.display());
        };
        let (start, end) = iw_data::prepared::bounding_box(lungs.view(), 5, |_, &v| v)
            .ok_or_else(|| anyhow::anyhow!("{}: the lung mask is empty", path.display()))?;
        let said = format!(
            "lungs of {} (LUNA16: labels but the trachea, closed and dilated; CT at its minimum outside; bounding box + 5 voxels)",
            path.display()
        );
        return Ok(Roi { start, end, said, outside_to_min: Some(lungs) });
    }
    let mask = m.nonzero_mask();
    let Some((start, end)) = iw_data::prepared::bounding_box(mask.data.view(), 5, |_, &v| v != 0) else {
        bail!("{}: the ROI mask is empty", path.display());
    };
    Ok(Roi { start, end, said: format!("ROI {} (bounding box + 5 voxels)", path.display()), outside_to_min: None })
}

/// The network input of one scan; its intensities, geometry and ROI.
fn prepare(image: &mut Volume<f32>, intensity: Intensity, roi: &Roi) -> NetworkInput {
    if let Intensity::Scaling(s) = intensity {
        s.apply(image);
    }
    if let Some(lungs) = &roi.outside_to_min {
        let min = image.data.iter().copied().fold(f32::INFINITY, f32::min);
        ndarray::Zip::from(&mut image.data).and(lungs).for_each(|v, &m| {
            if !m {
                *v = min;
            }
        });
    }
    let (s, e) = (roi.start, roi.end);
    let crop = image.data.slice(ndarray::s![s[0]..e[0], s[1]..e[1], s[2]..e[2]]);
    let shape_zyx = [e[0] - s[0], e[1] - s[1], e[2] - s[2]];
    let image = match intensity {
        Intensity::Window(w) => {
            let (mn, mx) = crop.iter().fold((f64::MAX, f64::MIN), |(a, b), &v| (a.min(v as f64), b.max(v as f64)));
            let (lo, hi) = (mn.max(w[0]), mx.min(w[1]));
            let scale = if hi > lo { 1.0 / (hi - lo) } else { 0.0 };
            let (lo, scale, wlo, whi) = (lo as f32, scale as f32, w[0] as f32, w[1] as f32);
            crop.iter().map(|&v| (v.clamp(wlo, whi) - lo) * scale).collect()
        }
        Intensity::Scaling(_) => crop.iter().copied().collect(),
    };
    NetworkInput { image, shape_zyx }
}

/// A scan's line in `segment_summary.csv`.
struct SummaryRow {
    scan: String,
    path: PathBuf,
    status: &'static str,
    lesions: String,
    volume_mm3: String,
    roi: String,
    seconds: String,
    message: String,
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Segments `a.scans` with `predict` (network input -> probabilities, `[z, y, x]`). `model`
/// says which model and device, for the output. Returns an error when a scan failed (after
/// all the others ran).
pub fn segment(
    a: &SegmentArgs,
    exp: &Experiment,
    model: &str,
    mut predict: impl FnMut(&NetworkInput) -> anyhow::Result<Vec<f32>>,
) -> anyhow::Result<()> {
    let intensity = Intensity::of(exp, a.scaling.as_deref())?;
    let conn = Connectivity::from_number(a.connectivity)?;
    let scans = find_scans(&a.scans)?;
    let luna16 = exp.dataset.name == "luna16";
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    iw_core::remove_stale_temporaries(&a.out);
    println!(
        "segment: {} scan(s) with {model}; intensities: {}; threshold {}; region of interest: {}",
        scans.len(),
        intensity.describe(),
        a.threshold,
        match &a.roi {
            Some(r) => format!("--roi {}", r.display()),
            None => "whole scan (no --roi)".into(),
        }
    );
    let shared = Shared { a, luna16, n_scans: scans.len(), intensity, conn };
    let pb = iw_run::progress::bar(scans.len() as u64, "segment");
    let mut rows = Vec::new();
    let mut failed = Vec::new();
    for scan in &scans {
        iw_run::interrupt::check(|| {
            format!(
                "{} of {} scans segmented into {}; rerun the same command to resume",
                rows.len(),
                scans.len(),
                a.out.display()
            )
        })?;
        pb.set_message(scan.name.clone());
        let outs = scan.outputs(&a.out);
        let overlay_done = !a.overlay_png || scan.overlay(&a.out).is_file();
        if outs.iter().all(|p| p.is_file()) && overlay_done {
            let n = std::fs::read_to_string(&outs[2]).map(|t| t.lines().count().saturating_sub(1)).unwrap_or(0);
            rows.push(SummaryRow {
                scan: scan.name.clone(),
                path: scan.path.clone(),
                status: "exists",
                lesions: n.to_string(),
                volume_mm3: String::new(),
                roi: String::new(),
                seconds: String::new(),
                message: "outputs exist: skipped".into(),
            });
            pb.suspend(|| println!("{}: outputs exist, skipped", scan.name));
            pb.inc(1);
            continue;
        }
        let t0 = Instant::now();
        match segment_one(&shared, scan, &mut predict) {
            Ok((lesions, roi)) => {
                let total = lesions.iter().fold(0.0, |a, l| a + l.volume_mm3);
                pb.suspend(|| {
                    println!(
                        "{}: {} lesion(s), {:.1} mm^3 in all ({}); wrote {}",
                        scan.name,
                        lesions.len(),
                        total,
                        roi,
                        outs.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
                    )
                });
                rows.push(SummaryRow {
                    scan: scan.name.clone(),
                    path: scan.path.clone(),
                    status: "done",
                    lesions: lesions.len().to_string(),
                    volume_mm3: format!("{total:.4}"),
                    roi,
                    seconds: format!("{:.2}", t0.elapsed().as_secs_f64()),
                    message: String::new(),
                });
            }
            Err(e) => {
                let msg = format!("{e:#}").replace('\n', " ");
                let shown = scan.path.display().to_string();
                let line = if msg.contains(&shown) { msg.clone() } else { format!("{shown}: {msg}") };
                pb.suspend(|| eprintln!("{line}"));
                failed.push(scan.name.clone());
                rows.push(SummaryRow {
                    scan: scan.name.clone(),
                    path: scan.path.clone(),
                    status: "error",
                    lesions: String::new(),
                    volume_mm3: String::new(),
                    roi: String::new(),
                    seconds: format!("{:.2}", t0.elapsed().as_secs_f64()),
                    message: msg,
                });
            }
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    let mut csv = String::from("scan,path,status,lesions,lesion_volume_mm3,region_of_interest,seconds,message\n");
    for r in &rows {
        csv += &[
            csv_field(&r.scan),
            csv_field(&r.path.display().to_string()),
            r.status.to_string(),
            r.lesions.clone(),
            r.volume_mm3.clone(),
            csv_field(&r.roi),
            r.seconds.clone(),
            csv_field(&r.message),
        ]
        .join(",");
        csv.push('\n');
    }
    let summary = a.out.join("segment_summary.csv");
    write_file_atomically(&summary, csv.as_bytes())?;
    println!(
        "{} segmented, {} skipped (outputs exist), {} failed; summary {}",
        rows.iter().filter(|r| r.status == "done").count(),
        rows.iter().filter(|r| r.status == "exists").count(),
        failed.len(),
        summary.display()
    );
    if !failed.is_empty() {
        bail!("{} of {} scan(s) failed: {} (see the messages above)", failed.len(), scans.len(), failed.join(", "));
    }
    Ok(())
}

/// What every scan of one `iw segment` shares.
struct Shared<'a> {
    a: &'a SegmentArgs,
    /// A LUNA16 run (its region of interest is the lungs).
    luna16: bool,
    n_scans: usize,
    intensity: Intensity,
    conn: Connectivity,
}

/// Segments one scan: its probability map, mask, lesion table (and with --overlay-png its
/// picture). Returns the lesions and the region of interest, in words.
fn segment_one(
    shared: &Shared<'_>,
    scan: &Scan,
    predict: &mut impl FnMut(&NetworkInput) -> anyhow::Result<Vec<f32>>,
) -> anyhow::Result<(Vec<Lesion>, String)> {
    let &Shared { a, luna16, n_scans, intensity, conn } = shared;
    let [prob_path, mask_path, csv_path] = scan.outputs(&a.out);
    for p in [&prob_path, &mask_path] {
        iw_run::outputs::output_path(p, &[scan.path.as_path()], None)?;
    }
    let mut image = read_volume(&scan.path)?.to_f32();
    iw_data::require_finite(&image, &scan.path, "image")?;
    let original = a.overlay_png.then(|| image.data.clone());
    let geometry = image.geometry.clone();
    let shape = image.shape_zyx();
    let roi = roi_of(scan, shape, a.roi.as_deref(), n_scans, luna16)?;
    let input = prepare(&mut image, intensity, &roi);
    drop(image);
    let p = predict(&input)?;
    if p.len() != input.image.len() {
        bail!("internal error: the network returned {} values for {} voxels", p.len(), input.image.len());
    }
    let crop = ndarray::Array3::from_shape_vec(input.shape_zyx, p)?;
    let mut prob = ndarray::Array3::<f32>::zeros(shape);
    let (s, e) = (roi.start, roi.end);
    prob.slice_mut(ndarray::s![s[0]..e[0], s[1]..e[1], s[2]..e[2]]).assign(&crop);
    let t = a.threshold as f32;
    let mask = Volume::new(prob.mapv(|v| u8::from(v > t)), geometry.clone());
    let prob = Volume::new(prob, geometry);
    let found = lesions(&mask, &prob, conn);
    // The table last: a scan with all three files is complete.
    let _ = std::fs::remove_file(&csv_path);
    write_volume(&prob_path, &prob)?;
    write_volume(&mask_path, &mask)?;
    if let Some(original) = original {
        let z = found.first().map_or(shape[0] / 2, |l| (l.bbox_min_xyz[2] + l.bbox_max_xyz[2]) / 2);
        let (img, m) = (original.index_axis(ndarray::Axis(0), z), mask.data.index_axis(ndarray::Axis(0), z));
        let png = iw_report::overlay::slice_png(img, m, &[("iw:slice_z", z.to_string())])?;
        write_file_atomically(&scan.overlay(&a.out), &png)?;
    }
    write_file_atomically(&csv_path, lesions_csv(&found).as_bytes())?;
    Ok((found, roi.said))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lesion_table_by_score_with_world_centroids() {
        let g = Geometry {
            spacing_xyz_mm: [0.5, 2.0, 3.0],
            origin_xyz_mm: [10.0, 20.0, 30.0],
            direction: [[-1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
        };
        let mut m = ndarray::Array3::<u8>::zeros((4, 5, 6));
        let mut p = ndarray::Array3::<f32>::zeros((4, 5, 6));
        // A 2-voxel lesion (max 0.7) and a 1-voxel one (max 0.9).
        m[[0, 0, 0]] = 1;
        m[[0, 0, 1]] = 1;
        p[[0, 0, 0]] = 0.6;
        p[[0, 0, 1]] = 0.7;
        m[[3, 4, 5]] = 1;
        p[[3, 4, 5]] = 0.9;
        let l = lesions(&Volume::new(m, g.clone()), &Volume::new(p, g), Connectivity::C26);
        assert_eq!(l.len(), 2);
        assert_eq!((l[0].id, l[0].voxels, l[0].max_prob as f32), (1, 1, 0.9));
        assert_eq!(l[0].centroid_mm, [10.0 - 2.5, 20.0 + 8.0, 30.0 + 9.0]);
        assert_eq!(l[1].volume_mm3, 6.0);
        assert_eq!(l[1].centroid_mm, [10.0 - 0.25, 20.0, 30.0]);
        assert!((l[1].mean_prob - 0.65).abs() < 1e-7);
        assert_eq!((l[1].bbox_min_xyz, l[1].bbox_max_xyz), ([0, 0, 0], [1, 0, 0]));
        assert!((l[1].diameter_mm - (36.0 / std::f64::consts::PI).cbrt()).abs() < 1e-12);
        let csv = lesions_csv(&l);
        assert!(csv.starts_with("id,voxels,volume_mm3"));
        assert_eq!(csv.lines().count(), 3);
    }

    #[test]
    fn scan_names_and_output_formats() {
        assert_eq!(scan_name(Path::new("a/lung1_image.nrrd")), Some(("lung1_image".into(), ".nrrd")));
        assert_eq!(scan_name(Path::new("x.nii.gz")), Some(("x".into(), ".nii.gz")));
        assert_eq!(scan_name(Path::new("x.DCM")), Some(("x".into(), ".nii.gz")));
        assert_eq!(scan_name(Path::new("x.raw")), None);
    }
}
