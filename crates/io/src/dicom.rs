//! DICOM input on the `dicom` crates: a series from a folder, or one (multi-frame) file.
//!
//! A folder holds one series: its files are grouped by SeriesInstanceUID (more than one is an
//! error naming them), sorted by ImagePositionPatient projected on the slice normal
//! (row direction x column direction from ImageOrientationPatient); in-plane spacing comes from
//! PixelSpacing (row spacing, column spacing = y, x), slice spacing from the sorted positions,
//! which must be distinct and evenly spaced (1 % tolerance). RescaleSlope/Intercept are applied
//! per slice, parsed as numbers even when stored with VR UN (the `dicom-pixeldata` crate falls
//! back to 1 and 0 silently there). The result is int16 when every value is an integer that
//! fits int16 (CT in HU, as ITK gives it), float32 otherwise. DICOM is LPS, like iw's world
//! frame, so positions are used as they are. Pixel data the crates cannot decode (JPEG-LS,
//! 12-bit lossy JPEG, ...) is an error naming the transfer syntax.
use crate::error::{Error, Result};
use dicom_dictionary_std::tags;
use dicom_object::{DefaultDicomObject, InMemDicomObject};
use dicom_pixeldata::{ConvertOptions, ModalityLutOption, PixelDecoder};
use iw_core::volume::{DynVolume, Geometry, Volume};
use std::path::{Path, PathBuf};

type Tag = dicom_core::Tag;

/// Reads a DICOM folder (one series) or a single DICOM file.
pub fn read(path: &Path) -> Result<DynVolume> {
    if path.is_dir() {
        read_series(path)
    } else {
        read_single_file(path)
    }
}

const DEFLATED_EXPLICIT_VR_LE: &str = "1.2.840.10008.1.2.1.99";

/// Opens a DICOM file with every allocation sized by a declared element length bounded by what
/// the file can hold: its length, or 1032 times it for the deflated transfer syntax (the largest
/// deflate expansion). dicom-parser/dicom-object 0.10.1 reserve declared lengths before reading
/// (a 73-byte file allocated 4 GiB); the bound is enforced by the vendored patch
/// `dicom_parser::alloc_limit` (see the workspace Cargo.toml).
fn open(path: &Path) -> Result<DefaultDicomObject> {
    use dicom_parser::alloc_limit::with_limit;
    use std::io::{Read, Seek, SeekFrom};
    let not_dicom = |e: &dyn std::fmt::Display| Error::format(path, format!("not a readable DICOM file: {e}"));
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let len = f.metadata().map_err(|e| Error::io(path, e))?.len();
    // The transfer syntax, from the file meta group (after the optional 128-byte preamble).
    let mut head = [0u8; 132];
    let n = crate::read_up_to(&mut f, &mut head).map_err(|e| Error::io(path, e))?;
    let meta_start = if n == 132 && &head[128..132] == b"DICM" { 128 } else { 0 };
    f.seek(SeekFrom::Start(meta_start)).map_err(|e| Error::io(path, e))?;
    let meta = with_limit(len, || dicom_object::FileMetaTable::from_reader(std::io::BufReader::new(f.by_ref())));
    let deflated = meta.is_ok_and(|m| m.transfer_syntax().trim_end_matches('\0') == DEFLATED_EXPLICIT_VR_LE);
    let limit = if deflated { len.saturating_mul(crate::nifti::MAX_DEFLATE_RATIO) } else { len };
    with_limit(limit, || dicom_object::open_file(path)).map_err(|e| not_dicom(&e))
}

/// Reads a single DICOM file (with or without its 128-byte preamble) from its bytes; errors
/// name the file `<bytes>`. The entry point of the fuzz target `dicom`.
pub fn read_bytes(bytes: &[u8]) -> Result<DynVolume> {
    use dicom_parser::alloc_limit::with_limit;
    let path = Path::new("<bytes>");
    let body = if bytes.len() >= 132 && &bytes[128..132] == b"DICM" { &bytes[128..] } else { bytes };
    let len = body.len() as u64;
    let meta = with_limit(len, || dicom_object::FileMetaTable::from_reader(body));
    let deflated = meta.is_ok_and(|m| m.transfer_syntax().trim_end_matches('\0') == DEFLATED_EXPLICIT_VR_LE);
    let limit = if deflated { len.saturating_mul(crate::nifti::MAX_DEFLATE_RATIO) } else { len };
    let obj = with_limit(limit, || dicom_object::OpenFileOptions::new().from_reader(body))
        .map_err(|e| Error::format(path, format!("not a readable DICOM file: {e}")))?;
    read_object(path, &obj)
}

/// Numbers of an element, also when its VR is UN (then the bytes are the DS text).
fn numbers(obj: &InMemDicomObject, tag: Tag) -> Option<Vec<f64>> {
    let e = obj.element_opt(tag).ok()??;
    if e.vr() == dicom_core::VR::UN {
        let bytes = e.value().to_bytes().ok()?;
        let text = String::from_utf8_lossy(&bytes);
        let v: std::result::Result<Vec<f64>, _> = text
            .trim_matches(|c: char| c == '\0' || c.is_whitespace())
            .split('\\')
            .map(|s| s.trim().parse::<f64>())
            .collect();
        return v.ok().filter(|v| !v.is_empty());
    }
    e.to_multi_float64().ok().filter(|v| !v.is_empty())
}

fn text(obj: &InMemDicomObject, tag: Tag) -> Option<String> {
    let e = obj.element_opt(tag).ok()??;
    Some(e.to_str().ok()?.trim().trim_end_matches('\0').to_string())
}

fn first_item(obj: &InMemDicomObject, tag: Tag) -> Option<&InMemDicomObject> {
    obj.element_opt(tag).ok()??.items()?.first()
}

fn transfer_syntax_name(uid: &str) -> &'static str {
    match uid.trim_end_matches('\0') {
        "1.2.840.10008.1.2" => "Implicit VR Little Endian",
        "1.2.840.10008.1.2.1" => "Explicit VR Little Endian",
        "1.2.840.10008.1.2.2" => "Explicit VR Big Endian",
        "1.2.840.10008.1.2.1.99" => "Deflated Explicit VR Little Endian",
        "1.2.840.10008.1.2.4.50" => "JPEG Baseline (8-bit)",
        "1.2.840.10008.1.2.4.51" => "JPEG Extended (12-bit lossy)",
        "1.2.840.10008.1.2.4.57" => "JPEG Lossless (Process 14)",
        "1.2.840.10008.1.2.4.70" => "JPEG Lossless SV1",
        "1.2.840.10008.1.2.4.80" => "JPEG-LS Lossless",
        "1.2.840.10008.1.2.4.81" => "JPEG-LS Near-Lossless",
        "1.2.840.10008.1.2.4.90" => "JPEG 2000 Lossless",
        "1.2.840.10008.1.2.4.91" => "JPEG 2000",
        "1.2.840.10008.1.2.5" => "RLE Lossless",
        _ => "unknown transfer syntax",
    }
}

/// One decoded image plane (or frame) with its position.
struct Plane {
    position: [f64; 3],
    values: Vec<f32>,
}

struct Layout {
    rows: usize,
    cols: usize,
    /// Row direction (x) then column direction (y), LPS.
    orientation: [f64; 6],
    /// (row spacing = y, column spacing = x), mm.
    pixel_spacing_yx: [f64; 2],
}

fn layout_of(path: &Path, obj: &InMemDicomObject, shared: Option<&InMemDicomObject>) -> Result<Layout> {
    let rows = dimension(path, obj, tags::ROWS, "Rows")?;
    let cols = dimension(path, obj, tags::COLUMNS, "Columns")?;
    if let Some(spp) = numbers(obj, tags::SAMPLES_PER_PIXEL).and_then(|v| v.first().copied()) {
        if spp != 1.0 {
            return Err(Error::unsupported(
                path,
                format!("SamplesPerPixel = {spp} (colour image); iw reads greyscale volumes"),
            ));
        }
    }
    let from_shared = |seq: Tag, tag: Tag| shared.and_then(|s| first_item(s, seq)).and_then(|i| numbers(i, tag));
    let orientation = numbers(obj, tags::IMAGE_ORIENTATION_PATIENT)
        .or_else(|| from_shared(tags::PLANE_ORIENTATION_SEQUENCE, tags::IMAGE_ORIENTATION_PATIENT))
        .unwrap_or_else(|| vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
    if orientation.len() != 6 {
        return Err(Error::format(
            path,
            format!("ImageOrientationPatient has {} values, expected 6", orientation.len()),
        ));
    }
    let ps = numbers(obj, tags::PIXEL_SPACING)
        .or_else(|| from_shared(tags::PIXEL_MEASURES_SEQUENCE, tags::PIXEL_SPACING))
        .or_else(|| numbers(obj, tags::IMAGER_PIXEL_SPACING))
        .unwrap_or_else(|| vec![1.0, 1.0]);
    if ps.len() != 2 || ps.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
        return Err(Error::format(path, format!("PixelSpacing {ps:?} must be two positive numbers")));
    }
    let mut o = [0.0; 6];
    o.copy_from_slice(&orientation);
    Ok(Layout { rows, cols, orientation: o, pixel_spacing_yx: [ps[0], ps[1]] })
}

/// Rows or Columns: an integer in 1..=65535 (US).
fn dimension(path: &Path, obj: &InMemDicomObject, tag: Tag, name: &str) -> Result<usize> {
    let v =
        numbers(obj, tag).and_then(|v| v.first().copied()).ok_or_else(|| Error::format(path, format!("no {name}")))?;
    if !((1.0..=65535.0).contains(&v) && v.fract() == 0.0) {
        return Err(Error::format(path, format!("{name} = {v}: must be an integer in 1..65535")));
    }
    Ok(v as usize)
}

/// Checks the pixel data against what Rows, Columns, NumberOfFrames and BitsAllocated declare,
/// before any decoder sizes a buffer by them: native data must hold every declared byte,
/// encapsulated (compressed) data at most 1032 times its bytes, and each RLE fragment must
/// start with a consistent RLE header (segment count and offsets inside the fragment).
fn check_pixel_data(path: &Path, obj: &DefaultDicomObject) -> Result<()> {
    let rows = dimension(path, obj, tags::ROWS, "Rows")? as u64;
    let cols = dimension(path, obj, tags::COLUMNS, "Columns")? as u64;
    let frames = numbers(obj, tags::NUMBER_OF_FRAMES).and_then(|v| v.first().copied()).unwrap_or(1.0);
    if !((1.0..=i32::MAX as f64).contains(&frames) && frames.fract() == 0.0) {
        return Err(Error::format(path, format!("NumberOfFrames = {frames}: must be a positive integer")));
    }
    let bits = numbers(obj, tags::BITS_ALLOCATED).and_then(|v| v.first().copied()).unwrap_or(16.0);
    if !((1.0..=64.0).contains(&bits) && bits.fract() == 0.0) {
        return Err(Error::format(path, format!("BitsAllocated = {bits}: must be an integer in 1..64")));
    }
    let needed = (rows * cols * frames as u64 * bits as u64).div_ceil(8);
    let Some(pixel_data) = obj.element_opt(tags::PIXEL_DATA).ok().flatten() else {
        return Err(Error::format(path, "no PixelData"));
    };
    if let Some(fragments) = pixel_data.value().fragments() {
        let stored: u64 = fragments.iter().map(|f| f.len() as u64).sum();
        if needed > stored.saturating_mul(crate::nifti::MAX_DEFLATE_RATIO) {
            return Err(Error::format(
                path,
                format!(
                    "Rows x Columns x NumberOfFrames x BitsAllocated = {needed} bytes from {stored} bytes \
                     of compressed pixel data (more than {}:1): corrupt file",
                    crate::nifti::MAX_DEFLATE_RATIO
                ),
            ));
        }
        if obj.meta().transfer_syntax().trim_end_matches('\0') == "1.2.840.10008.1.2.5" {
            for (i, f) in fragments.iter().enumerate() {
                check_rle_header(f).map_err(|m| Error::format(path, format!("RLE fragment {i}: {m}")))?;
            }
        }
    } else {
        let stored = pixel_data.value().to_bytes().map(|b| b.len() as u64).unwrap_or(0);
        if stored < needed {
            return Err(Error::format(
                path,
                format!(
                    "PixelData has {stored} bytes; Rows x Columns x NumberOfFrames x BitsAllocated = \
                     {rows} x {cols} x {frames} x {bits} needs {needed} (truncated file)"
                ),
            ));
        }
    }
    Ok(())
}

/// The 64-byte RLE header (DICOM PS3.5 G.3.1): a segment count in 1..=15, then the segments'
/// offsets, the first 64, increasing, all inside the fragment.
fn check_rle_header(f: &[u8]) -> std::result::Result<(), String> {
    if f.len() < 64 {
        return Err(format!("{} bytes, shorter than the 64-byte RLE header", f.len()));
    }
    let word = |i: usize| u32::from_le_bytes(f[4 * i..4 * i + 4].try_into().expect("4 bytes")) as usize;
    let segments = word(0);
    if !(1..=15).contains(&segments) {
        return Err(format!("{segments} segments (RLE allows 1 to 15)"));
    }
    let offsets: Vec<usize> = (1..=segments).map(word).collect();
    if offsets[0] != 64 || offsets.windows(2).any(|w| w[1] <= w[0]) || offsets[segments - 1] >= f.len() {
        return Err(format!("segment offsets {offsets:?} are not increasing from 64 inside {} bytes", f.len()));
    }
    Ok(())
}

/// Runs a dependency's pixel decoder and turns a panic inside it into an error message.
/// Last resort: dicom-transfer-syntax-registry 0.10.1 indexes RLE data without bounds checks
/// (its `read_rle_header`, and the copy of a segment that decodes short), so garbage RLE data
/// panics inside it. [`check_rle_header`] rules out what can be checked up front; what remains
/// is caught here. While the decoder runs, panics on this thread skip the panic hook (no
/// "thread panicked" message on stderr): the error is reported once, as a line naming the file.
fn catch_decoder_panic<T>(decode: impl FnOnce() -> T) -> std::result::Result<T, String> {
    use std::cell::Cell;
    thread_local! {
        static QUIET: Cell<bool> = const { Cell::new(false) };
    }
    static WRAP_HOOK: std::sync::Once = std::sync::Once::new();
    WRAP_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(Cell::get) {
                previous(info);
            }
        }));
    });
    let was = QUIET.with(|q| q.replace(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(decode));
    QUIET.with(|q| q.set(was));
    result.map_err(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        format!("the decoder failed on corrupt data ({message})")
    })
}

fn normal(o: &[f64; 6]) -> [f64; 3] {
    let (r, c) = ([o[0], o[1], o[2]], [o[3], o[4], o[5]]);
    [r[1] * c[2] - r[2] * c[1], r[2] * c[0] - r[0] * c[2], r[0] * c[1] - r[1] * c[0]]
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

/// All frames of a file, rescaled, as f32.
fn decode_frames(path: &Path, obj: &DefaultDicomObject) -> Result<Vec<Vec<f32>>> {
    let ts = obj.meta().transfer_syntax().trim_end_matches('\0').to_string();
    let undecodable = |e: &dyn std::fmt::Display| {
        Error::unsupported(
            path,
            format!("cannot decode pixel data in transfer syntax {} ({ts}): {e}", transfer_syntax_name(&ts)),
        )
    };
    check_pixel_data(path, obj)?;
    let opts = ConvertOptions::new().with_modality_lut(ModalityLutOption::None);
    let (decoded, flat) = catch_decoder_panic(|| {
        let decoded = obj.decode_pixel_data().map_err(|e| undecodable(&e))?;
        let flat: Vec<f32> = decoded.to_vec_with_options::<f32>(&opts).map_err(|e| undecodable(&e))?;
        Ok::<_, Error>((decoded, flat))
    })
    .map_err(|m| Error::format(path, format!("{} pixel data: {m}", transfer_syntax_name(&ts))))??;
    let frames = decoded.number_of_frames().max(1) as usize;
    let per = (decoded.rows() as usize) * (decoded.columns() as usize);
    if per == 0 || flat.len() != per * frames {
        return Err(Error::format(path, format!("decoded {} pixels, expected {frames} frames of {per}", flat.len())));
    }
    let slope = numbers(obj, tags::RESCALE_SLOPE).and_then(|v| v.first().copied()).unwrap_or(1.0);
    let inter = numbers(obj, tags::RESCALE_INTERCEPT).and_then(|v| v.first().copied()).unwrap_or(0.0);
    if !(slope.is_finite() && inter.is_finite()) {
        return Err(Error::format(path, format!("RescaleSlope {slope} / RescaleIntercept {inter} must be finite")));
    }
    Ok(flat
        .chunks_exact(per)
        .map(|f| {
            if slope == 1.0 && inter == 0.0 {
                f.to_vec()
            } else {
                f.iter().map(|&v| (v as f64 * slope + inter) as f32).collect()
            }
        })
        .collect())
}

fn read_single_file(path: &Path) -> Result<DynVolume> {
    read_object(path, &open(path)?)
}

fn read_object(path: &Path, obj: &DefaultDicomObject) -> Result<DynVolume> {
    let per_frame = obj.element_opt(tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE).ok().flatten().and_then(|e| e.items());
    let shared = first_item(obj, tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE);
    let layout = layout_of(path, obj, shared)?;
    let frames = decode_frames(path, obj)?;
    let n = normal(&layout.orientation);
    let positions: Vec<[f64; 3]> = match per_frame {
        Some(items) if items.len() == frames.len() => items
            .iter()
            .map(|it| {
                first_item(it, tags::PLANE_POSITION_SEQUENCE)
                    .and_then(|p| numbers(p, tags::IMAGE_POSITION_PATIENT))
                    .filter(|v| v.len() == 3)
                    .map(|v| [v[0], v[1], v[2]])
                    .ok_or_else(|| Error::format(path, "a frame has no PlanePositionSequence/ImagePositionPatient"))
            })
            .collect::<Result<_>>()?,
        _ => {
            let ipp =
                numbers(obj, tags::IMAGE_POSITION_PATIENT).filter(|v| v.len() == 3).unwrap_or_else(|| vec![0.0; 3]);
            let dz = numbers(obj, tags::SPACING_BETWEEN_SLICES)
                .or_else(|| numbers(obj, tags::SLICE_THICKNESS))
                .and_then(|v| v.first().copied())
                .filter(|s| s.is_finite() && *s > 0.0)
                .unwrap_or(1.0);
            (0..frames.len())
                .map(|k| [ipp[0] + n[0] * dz * k as f64, ipp[1] + n[1] * dz * k as f64, ipp[2] + n[2] * dz * k as f64])
                .collect()
        }
    };
    let planes = frames.into_iter().zip(positions).map(|(values, position)| Plane { position, values }).collect();
    let fallback_dz = numbers(obj, tags::SPACING_BETWEEN_SLICES)
        .or_else(|| numbers(obj, tags::SLICE_THICKNESS))
        .or_else(|| {
            shared
                .and_then(|s| first_item(s, tags::PIXEL_MEASURES_SEQUENCE))
                .and_then(|i| numbers(i, tags::SLICE_THICKNESS))
        })
        .and_then(|v| v.first().copied())
        .filter(|s| s.is_finite() && *s > 0.0)
        .unwrap_or(1.0);
    assemble(path, &layout, planes, fallback_dz)
}

fn read_series(dir: &Path) -> Result<DynVolume> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    let mut objects = Vec::new();
    for f in &files {
        if let Ok(obj) = open(f) {
            if obj.element_opt(tags::PIXEL_DATA).ok().flatten().is_some() {
                objects.push((f.clone(), obj));
            }
        }
    }
    if objects.is_empty() {
        return Err(Error::format(
            dir,
            format!("no DICOM image files among its {} files (a series folder holds the slices directly)", files.len()),
        ));
    }
    let mut uids: Vec<String> =
        objects.iter().map(|(_, o)| text(o, tags::SERIES_INSTANCE_UID).unwrap_or_default()).collect();
    uids.sort();
    uids.dedup();
    if uids.len() > 1 {
        return Err(Error::format(
            dir,
            format!(
                "mixed series: {} SeriesInstanceUIDs ({}); put each series in its own folder",
                uids.len(),
                uids.join(", ")
            ),
        ));
    }
    let layout = layout_of(&objects[0].0, &objects[0].1, None)?;
    let mut planes = Vec::with_capacity(objects.len());
    for (p, obj) in &objects {
        let l = layout_of(p, obj, None)?;
        if (l.rows, l.cols) != (layout.rows, layout.cols) {
            return Err(Error::format(
                dir,
                format!(
                    "inconsistent geometry: {} is {}x{}, {} is {}x{} (rows x columns)",
                    objects[0].0.display(),
                    layout.rows,
                    layout.cols,
                    p.display(),
                    l.rows,
                    l.cols
                ),
            ));
        }
        if l.orientation.iter().zip(layout.orientation).any(|(a, b)| (a - b).abs() > 1e-4) {
            return Err(Error::format(
                dir,
                format!("inconsistent geometry: {} has another ImageOrientationPatient", p.display()),
            ));
        }
        if l.pixel_spacing_yx.iter().zip(layout.pixel_spacing_yx).any(|(a, b)| (a - b).abs() > 1e-4 * b) {
            return Err(Error::format(dir, format!("inconsistent geometry: {} has another PixelSpacing", p.display())));
        }
        let ipp = numbers(obj, tags::IMAGE_POSITION_PATIENT)
            .filter(|v| v.len() == 3)
            .ok_or_else(|| Error::format(p, "no ImagePositionPatient: cannot order the series"))?;
        let mut frames = decode_frames(p, obj)?;
        if frames.len() != 1 {
            return Err(Error::unsupported(p, "a multi-frame file inside a series folder; read the file on its own"));
        }
        planes.push(Plane { position: [ipp[0], ipp[1], ipp[2]], values: frames.pop().expect("one frame") });
    }
    drop(objects);
    assemble(dir, &layout, planes, 1.0)
}

fn assemble(path: &Path, layout: &Layout, mut planes: Vec<Plane>, fallback_dz: f64) -> Result<DynVolume> {
    let n = normal(&layout.orientation);
    planes.sort_by(|a, b| dot(a.position, n).total_cmp(&dot(b.position, n)));
    let dists: Vec<f64> = planes.iter().map(|p| dot(p.position, n)).collect();
    let gaps: Vec<f64> = dists.windows(2).map(|w| w[1] - w[0]).collect();
    let dz = if gaps.is_empty() {
        fallback_dz
    } else {
        let mean = (dists[dists.len() - 1] - dists[0]) / gaps.len() as f64;
        if let Some(i) = gaps.iter().position(|g| *g <= 1e-3) {
            return Err(Error::format(
                path,
                format!("inconsistent geometry: two slices at the same position {:?}", planes[i].position),
            ));
        }
        if gaps.iter().any(|g| (g - mean).abs() > 0.01 * mean) {
            let (lo, hi) = gaps.iter().fold((f64::MAX, f64::MIN), |(l, h), g| (l.min(*g), h.max(*g)));
            return Err(Error::format(
                path,
                format!("inconsistent geometry: slice spacing varies from {lo:.4} to {hi:.4} mm (missing slices?)"),
            ));
        }
        mean
    };
    let o = &layout.orientation;
    let geometry = Geometry {
        spacing_xyz_mm: [layout.pixel_spacing_yx[1], layout.pixel_spacing_yx[0], dz],
        origin_xyz_mm: planes[0].position,
        direction: [[o[0], o[3], n[0]], [o[1], o[4], n[1]], [o[2], o[5], n[2]]],
    };
    geometry.validate().map_err(|m| Error::format(path, m))?;
    let shape = [planes.len(), layout.rows, layout.cols];
    let mut all = Vec::with_capacity(shape.iter().product());
    for p in planes {
        all.extend_from_slice(&p.values);
    }
    let fits_i16 = all.iter().all(|&v| v.fract() == 0.0 && (i16::MIN as f32..=i16::MAX as f32).contains(&v));
    let data = ndarray::Array3::from_shape_vec(shape, all).expect("planes have rows x cols values");
    Ok(if fits_i16 {
        DynVolume::I16(Volume::new(data.mapv(|v| v as i16), geometry))
    } else {
        DynVolume::F32(Volume::new(data, geometry))
    })
}
