//! NIfTI-1 (`.nii`, `.nii.gz`) on top of the `nifti` crate.
//!
//! The crate parses and writes the 348-byte header (both byte orders); voxels are read here
//! straight into a C-order `[z, y, x]` buffer (NIfTI stores x fastest, so no transpose is
//! needed). The affine follows nibabel's `get_best_affine`: the sform when `sform_code != 0`,
//! else the qform when `qform_code != 0`, else the centred base affine. Like nibabel on load,
//! a qfac (`pixdim[0]`) other than -1 counts as 1 and negative `pixdim` are used by absolute
//! value; the crate's own affine code, which panics on both, is never called.
//! `scl_slope`/`scl_inter` are applied when they are not the identity (slope 0 or NaN means
//! "no scaling", as in nibabel); the result is float32, or float64 for 32/64-bit sources.
use crate::error::{Error, Result};
use crate::{read_up_to, write_atomically};
use flate2::read::MultiGzDecoder;
use iw_core::volume::{invert3, DType, DynVolume, Element, Geometry, Volume};
use nifti::{NiftiHeader, NiftiType};
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

/// Deflate never expands data by more than about 1032:1, so a `.nii.gz` of `n` bytes cannot
/// hold more than `n * MAX_DEFLATE_RATIO` bytes of header and voxels.
pub(crate) const MAX_DEFLATE_RATIO: u64 = 1032;

/// Reads a `.nii` or `.nii.gz` file.
pub fn read(path: &Path) -> Result<DynVolume> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    let gz = path.to_string_lossy().to_ascii_lowercase().ends_with(".gz");
    read_from(path, BufReader::with_capacity(1 << 20, file), len, gz)
}

/// Reads a NIfTI-1 volume from the bytes of a `.nii` (`gz = false`) or `.nii.gz` file; errors
/// name the file `<bytes>`. The entry point of the fuzz target `nifti`.
pub fn read_bytes(bytes: &[u8], gz: bool) -> Result<DynVolume> {
    read_from(Path::new("<bytes>"), bytes, bytes.len() as u64, gz)
}

/// Reads from `input` (`input_len` bytes long, gzip-compressed when `gz`). Nothing is allocated
/// for the voxels before their declared size is checked against `input_len`; a gzip stream is
/// read to its end so that every member's CRC-32 and ISIZE are checked.
fn read_from(path: &Path, input: impl Read, input_len: u64, gz: bool) -> Result<DynVolume> {
    let mut reader: Box<dyn Read + '_> =
        if gz { Box::new(MultiGzDecoder::new(std::io::BufReader::new(input))) } else { Box::new(input) };
    let io_err = |e: std::io::Error| {
        if gz {
            Error::format(path, format!("corrupt gzip stream: {e}"))
        } else {
            Error::io(path, e)
        }
    };
    let mut raw = [0u8; 348];
    let n = read_up_to(&mut reader, &mut raw).map_err(io_err)?;
    if n < 348 {
        return Err(Error::format(path, format!("truncated header: {n} of 348 bytes")));
    }
    let le = i32::from_le_bytes(raw[0..4].try_into().expect("4 bytes"));
    let be = i32::from_be_bytes(raw[0..4].try_into().expect("4 bytes"));
    if le == 540 || be == 540 {
        return Err(Error::unsupported(path, "NIfTI-2 header (sizeof_hdr 540); iw reads NIfTI-1"));
    }
    if le != 348 && be != 348 {
        return Err(Error::format(path, format!("not a NIfTI-1 file (sizeof_hdr is {le}, expected 348)")));
    }
    match &raw[344..348] {
        b"n+1\0" => {}
        b"ni1\0" => return Err(Error::unsupported(path, "NIfTI pair header (.hdr/.img); convert it to a single .nii")),
        m => return Err(Error::format(path, format!("bad NIfTI-1 magic {m:?} (expected \"n+1\\0\")"))),
    }
    // The byte order is the one that makes sizeof_hdr 348 (the `nifti` crate guesses it from
    // dim[0] instead, which turns a little-endian dim[0] = 8 into 2048): check dim[0] first.
    let file_be = le != 348;
    let dim0_bytes = [raw[40], raw[41]];
    let dim0 = if file_be { i16::from_be_bytes(dim0_bytes) } else { i16::from_le_bytes(dim0_bytes) };
    if !(1..=7).contains(&dim0) {
        return Err(Error::unsupported(path, format!("dim[0] = {dim0}: the number of dimensions must be 1..7")));
    }
    let header = NiftiHeader::from_reader(&raw[..]).map_err(|e| Error::format(path, format!("bad header: {e}")))?;
    let shape_zyx = shape_zyx(&header).map_err(|m| Error::unsupported(path, m))?;
    let dtype = dtype_of(header.datatype).ok_or_else(|| {
        Error::unsupported(
            path,
            format!("NIfTI datatype code {} ({})", header.datatype, datatype_name(header.datatype)),
        )
    })?;
    let vox_offset = header.vox_offset;
    if !(vox_offset.is_finite() && vox_offset >= 348.0) {
        return Err(Error::format(path, format!("vox_offset {vox_offset} is before the end of the header")));
    }
    // The declared size, checked against the input before anything is allocated for it.
    let want = shape_zyx
        .iter()
        .try_fold(dtype.size() as u64, |acc, &d| acc.checked_mul(d as u64))
        .filter(|&b| b <= isize::MAX as u64)
        .ok_or_else(|| Error::format(path, format!("dimensions {shape_zyx:?} (z, y, x) overflow the address space")))?;
    let end = (vox_offset as u64).saturating_add(want);
    if !gz && end > input_len {
        return Err(Error::format(
            path,
            format!(
                "data ends after {} of {want} bytes (truncated file: the header declares them from byte {}, the file has {input_len} bytes)",
                input_len.saturating_sub(vox_offset as u64),
                vox_offset as u64
            ),
        ));
    }
    if gz && end > input_len.saturating_mul(MAX_DEFLATE_RATIO) {
        return Err(Error::format(
            path,
            format!(
                "header declares {want} bytes of voxels, more than {input_len} gzip bytes can hold \
                 (deflate expands at most {MAX_DEFLATE_RATIO}:1): truncated or corrupt file"
            ),
        ));
    }
    // Skip the extension bytes between the header and the voxels.
    let skip = vox_offset as u64 - 348;
    let skipped = std::io::copy(&mut (&mut reader).take(skip), &mut std::io::sink()).map_err(io_err)?;
    if skipped < skip {
        return Err(Error::format(path, format!("file ends at byte {} before vox_offset {vox_offset}", 348 + skipped)));
    }
    let geometry = geometry_of(&header, shape_zyx).map_err(|m| Error::format(path, m))?;
    let big_endian = header.endianness == nifti::Endianness::Big;
    let mut volume = read_voxels(&mut reader, dtype, big_endian, shape_zyx, geometry).map_err(|e| match e {
        ReadErr::Io(e) => io_err(e),
        ReadErr::Short { got, want } => {
            Error::format(path, format!("data ends after {got} of {want} bytes (truncated file)"))
        }
    })?;
    if gz {
        // Read the stream to its end: flate2 checks each member's CRC-32 and ISIZE there.
        std::io::copy(&mut reader, &mut std::io::sink()).map_err(io_err)?;
    }
    let (slope, inter) = (header.scl_slope as f64, header.scl_inter as f64);
    let inter = if inter.is_finite() { inter } else { 0.0 };
    if slope.is_finite() && slope != 0.0 && (slope != 1.0 || inter != 0.0) {
        volume = apply_scaling(volume, slope, inter);
    }
    let kept = iw_core::FileHeader::Nifti1(std::sync::Arc::from(&raw[..348]));
    iw_core::dispatch!(&mut volume, v => v.header = Some(kept.clone()));
    Ok(volume)
}

enum ReadErr {
    Io(std::io::Error),
    Short { got: usize, want: usize },
}

fn read_voxels(
    r: &mut impl Read,
    dtype: DType,
    big_endian: bool,
    shape_zyx: [usize; 3],
    geometry: Geometry,
) -> std::result::Result<DynVolume, ReadErr> {
    fn go<T: Element>(
        r: &mut impl Read,
        big_endian: bool,
        shape_zyx: [usize; 3],
        geometry: Geometry,
    ) -> std::result::Result<Volume<T>, ReadErr> {
        let n = shape_zyx.iter().product::<usize>();
        let mut v: Vec<T> = vec![T::default(); n];
        let bytes = bytemuck::cast_slice_mut::<T, u8>(&mut v);
        let got = read_up_to(r, bytes).map_err(ReadErr::Io)?;
        if got < bytes.len() {
            return Err(ReadErr::Short { got, want: bytes.len() });
        }
        if big_endian != cfg!(target_endian = "big") && std::mem::size_of::<T>() > 1 {
            for c in bytes.chunks_exact_mut(std::mem::size_of::<T>()) {
                c.reverse();
            }
        }
        let data = ndarray::Array3::from_shape_vec(shape_zyx, v).expect("length is the product of the shape");
        Ok(Volume::new(data, geometry))
    }
    Ok(match dtype {
        DType::U8 => go::<u8>(r, big_endian, shape_zyx, geometry)?.into(),
        DType::I8 => go::<i8>(r, big_endian, shape_zyx, geometry)?.into(),
        DType::U16 => go::<u16>(r, big_endian, shape_zyx, geometry)?.into(),
        DType::I16 => go::<i16>(r, big_endian, shape_zyx, geometry)?.into(),
        DType::U32 => go::<u32>(r, big_endian, shape_zyx, geometry)?.into(),
        DType::I32 => go::<i32>(r, big_endian, shape_zyx, geometry)?.into(),
        DType::U64 => go::<u64>(r, big_endian, shape_zyx, geometry)?.into(),
        DType::I64 => go::<i64>(r, big_endian, shape_zyx, geometry)?.into(),
        DType::F32 => go::<f32>(r, big_endian, shape_zyx, geometry)?.into(),
        DType::F64 => go::<f64>(r, big_endian, shape_zyx, geometry)?.into(),
    })
}

fn apply_scaling(v: DynVolume, slope: f64, inter: f64) -> DynVolume {
    let wide = matches!(v.dtype(), DType::F64 | DType::I32 | DType::U32 | DType::I64 | DType::U64);
    iw_core::dispatch!(v, vol => {
        if wide {
            DynVolume::F64(vol.with_data(vol.data.mapv(|x| x.to_f64() * slope + inter)))
        } else {
            DynVolume::F32(vol.with_data(vol.data.mapv(|x| (x.to_f64() * slope + inter) as f32)))
        }
    })
}

fn shape_zyx(h: &NiftiHeader) -> std::result::Result<[usize; 3], String> {
    let nd = h.dim[0] as i16;
    if !(1..=7).contains(&nd) {
        return Err(format!("dim[0] = {nd}: the number of dimensions must be 1..7"));
    }
    let nd = nd as usize;
    let dims: Vec<i64> = (1..=nd).map(|i| h.dim[i] as i16 as i64).collect();
    if dims.iter().any(|&d| d <= 0) {
        return Err(format!("dimensions {dims:?} must all be > 0"));
    }
    if dims.iter().skip(3).any(|&d| d != 1) {
        return Err(format!(
            "{nd}-D image with dims {dims:?} (x, y, z, t, ...); iw reads 3D volumes (split the 4th dimension first)"
        ));
    }
    let get = |i: usize| dims.get(i).copied().unwrap_or(1) as usize;
    Ok([get(2), get(1), get(0)])
}

fn dtype_of(code: i16) -> Option<DType> {
    Some(match code {
        2 => DType::U8,
        4 => DType::I16,
        8 => DType::I32,
        16 => DType::F32,
        64 => DType::F64,
        256 => DType::I8,
        512 => DType::U16,
        768 => DType::U32,
        1024 => DType::I64,
        1280 => DType::U64,
        _ => return None,
    })
}

fn datatype_name(code: i16) -> &'static str {
    match code {
        1 => "binary",
        32 => "complex64",
        128 => "rgb24",
        1536 => "float128",
        1792 => "complex128",
        2048 => "complex256",
        2304 => "rgba32",
        _ => "unknown",
    }
}

fn nifti_type(d: DType) -> NiftiType {
    match d {
        DType::U8 => NiftiType::Uint8,
        DType::I8 => NiftiType::Int8,
        DType::U16 => NiftiType::Uint16,
        DType::I16 => NiftiType::Int16,
        DType::U32 => NiftiType::Uint32,
        DType::I32 => NiftiType::Int32,
        DType::U64 => NiftiType::Uint64,
        DType::I64 => NiftiType::Int64,
        DType::F32 => NiftiType::Float32,
        DType::F64 => NiftiType::Float64,
    }
}

/// The header's affine in NIfTI's RAS frame, by nibabel's `get_best_affine` rules.
pub fn best_affine_ras(h: &NiftiHeader, shape_zyx: [usize; 3]) -> [[f64; 4]; 4] {
    let mut a = [[0.0; 4]; 4];
    a[3][3] = 1.0;
    let zooms = [h.pixdim[1].abs() as f64, h.pixdim[2].abs() as f64, h.pixdim[3].abs() as f64];
    if h.sform_code != 0 {
        for (r, row) in [h.srow_x, h.srow_y, h.srow_z].iter().enumerate() {
            for c in 0..4 {
                a[r][c] = row[c] as f64;
            }
        }
    } else if h.qform_code != 0 {
        let (b, c, d) = (h.quatern_b as f64, h.quatern_c as f64, h.quatern_d as f64);
        // Clamped here; `geometry_of` rejects b^2 + c^2 + d^2 > 1 beyond float32 rounding first.
        let w = (1.0 - (b * b + c * c + d * d)).max(0.0).sqrt();
        let rot = quat_to_mat(w, b, c, d);
        let qfac = if h.pixdim[0] == -1.0 { -1.0 } else { 1.0 };
        let z = [zooms[0], zooms[1], zooms[2] * qfac];
        for r in 0..3 {
            for cc in 0..3 {
                a[r][cc] = rot[r][cc] * z[cc];
            }
        }
        a[0][3] = h.quatern_x as f64;
        a[1][3] = h.quatern_y as f64;
        a[2][3] = h.quatern_z as f64;
    } else {
        // nibabel's base affine: centred, x flipped.
        let shape_xyz = [shape_zyx[2], shape_zyx[1], shape_zyx[0]];
        let sign = [-1.0, 1.0, 1.0];
        for i in 0..3 {
            a[i][i] = sign[i] * zooms[i];
            a[i][3] = -((shape_xyz[i] as f64 - 1.0) / 2.0) * a[i][i];
        }
    }
    a
}

fn quat_to_mat(w: f64, x: f64, y: f64, z: f64) -> [[f64; 3]; 3] {
    let nq = w * w + x * x + y * y + z * z;
    if nq < 1e-12 {
        return [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
    }
    let s = 2.0 / nq;
    let (xs, ys, zs) = (x * s, y * s, z * s);
    let (wx, wy, wz) = (w * xs, w * ys, w * zs);
    let (xx, xy, xz) = (x * xs, x * ys, x * zs);
    let (yy, yz, zz) = (y * ys, y * zs, z * zs);
    [[1.0 - (yy + zz), xy - wz, xz + wy], [xy + wz, 1.0 - (xx + zz), yz - wx], [xz - wy, yz + wx, 1.0 - (xx + yy)]]
}

fn geometry_of(h: &NiftiHeader, shape_zyx: [usize; 3]) -> std::result::Result<Geometry, String> {
    if h.sform_code == 0 && h.qform_code != 0 {
        // As nibabel's `fillpositive`: w^2 = 1 - (b^2 + c^2 + d^2) may be negative only by
        // rounding, 3 float32 epsilons (`Nifti1Header.quaternion_threshold`).
        let [b, c, d] = [h.quatern_b, h.quatern_c, h.quatern_d];
        let w2 = 1.0 - (b * b + c * c + d * d);
        if w2.is_nan() || w2 < -3.0 * f32::EPSILON {
            return Err(format!(
                "invalid qform quaternion (b, c, d) = ({b}, {c}, {d}): b^2 + c^2 + d^2 = {} > 1",
                1.0 - w2
            ));
        }
    }
    let mut a = best_affine_ras(h, shape_zyx);
    for row in a.iter_mut().take(2) {
        for v in row.iter_mut() {
            *v = -*v;
        }
    }
    let g = Geometry::from_affine_lps(&a)?;
    g.validate()?;
    Ok(g)
}

/// Quaternion parameters (b, c, d) and qfac of the rotation part of `direction` (RAS), by the
/// NIfTI reference algorithm (`nifti_mat44_to_quatern`), after Gram-Schmidt orthonormalisation.
fn quatern_of(dir_ras: [[f64; 3]; 3]) -> ([f64; 3], f64) {
    let col = |m: &[[f64; 3]; 3], c: usize| [m[0][c], m[1][c], m[2][c]];
    let dot = |a: [f64; 3], b: [f64; 3]| a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
    let norm = |a: [f64; 3]| {
        let n = dot(a, a).sqrt();
        [a[0] / n, a[1] / n, a[2] / n]
    };
    let sub = |a: [f64; 3], b: [f64; 3], k: f64| [a[0] - k * b[0], a[1] - k * b[1], a[2] - k * b[2]];
    let e0 = norm(col(&dir_ras, 0));
    let e1 = norm(sub(col(&dir_ras, 1), e0, dot(col(&dir_ras, 1), e0)));
    let c2 = col(&dir_ras, 2);
    let e2 = norm(sub(sub(c2, e0, dot(c2, e0)), e1, dot(c2, e1)));
    let mut r = [[0.0; 3]; 3];
    for i in 0..3 {
        r[i][0] = e0[i];
        r[i][1] = e1[i];
        r[i][2] = e2[i];
    }
    let det = r[0][0] * (r[1][1] * r[2][2] - r[1][2] * r[2][1]) - r[0][1] * (r[1][0] * r[2][2] - r[1][2] * r[2][0])
        + r[0][2] * (r[1][0] * r[2][1] - r[1][1] * r[2][0]);
    let qfac = if det > 0.0 { 1.0 } else { -1.0 };
    if qfac < 0.0 {
        for row in r.iter_mut() {
            row[2] = -row[2];
        }
    }
    let (r11, r12, r13) = (r[0][0], r[0][1], r[0][2]);
    let (r21, r22, r23) = (r[1][0], r[1][1], r[1][2]);
    let (r31, r32, r33) = (r[2][0], r[2][1], r[2][2]);
    let a = r11 + r22 + r33 + 1.0;
    let (mut qa, mut qb, mut qc, mut qd);
    if a > 0.5 {
        qa = 0.5 * a.sqrt();
        qb = 0.25 * (r32 - r23) / qa;
        qc = 0.25 * (r13 - r31) / qa;
        qd = 0.25 * (r21 - r12) / qa;
    } else {
        let xd = 1.0 + r11 - (r22 + r33);
        let yd = 1.0 + r22 - (r11 + r33);
        let zd = 1.0 + r33 - (r11 + r22);
        if xd > 1.0 {
            qb = 0.5 * xd.sqrt();
            qc = 0.25 * (r12 + r21) / qb;
            qd = 0.25 * (r13 + r31) / qb;
            qa = 0.25 * (r32 - r23) / qb;
        } else if yd > 1.0 {
            qc = 0.5 * yd.sqrt();
            qb = 0.25 * (r12 + r21) / qc;
            qd = 0.25 * (r23 + r32) / qc;
            qa = 0.25 * (r13 - r31) / qc;
        } else {
            qd = 0.5 * zd.sqrt();
            qb = 0.25 * (r13 + r31) / qd;
            qc = 0.25 * (r23 + r32) / qd;
            qa = 0.25 * (r21 - r12) / qd;
        }
        if qa < 0.0 {
            qb = -qb;
            qc = -qc;
            qd = -qd;
            qa = -qa;
        }
    }
    let _ = qa;
    ([qb, qc, qd], qfac)
}

fn affines_close(a: &[[f64; 4]; 4], b: &[[f64; 4]; 4]) -> bool {
    (0..3).all(|r| (0..4).all(|c| (a[r][c] - b[r][c]).abs() <= 1e-4 * (1.0 + a[r][c].abs())))
}

/// The NIfTI-1 header a volume was read with (its kept [`iw_core::FileHeader`]), parsed.
fn parse_kept(header: Option<&iw_core::FileHeader>) -> Option<NiftiHeader> {
    match header? {
        iw_core::FileHeader::Nifti1(bytes) => NiftiHeader::from_reader(&bytes[..]).ok(),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// The NIfTI-1 header of a volume read from a NIfTI file (qform and sform codes, scaling, ...).
pub fn header_of(volume: &DynVolume) -> Option<NiftiHeader> {
    parse_kept(volume.header())
}

/// The header a volume is written with: its own NIfTI header when its geometry still matches
/// that header's affine (qform and sform preserved bit for bit), else a header whose qform and
/// sform (both code 1, scanner) encode the geometry.
pub fn header_for<T: Element>(volume: &Volume<T>) -> NiftiHeader {
    let shape = volume.shape_zyx();
    let affine = volume.geometry.affine_ras();
    let kept = parse_kept(volume.header.as_ref());
    if let Some(h) = &kept {
        if affines_close(&best_affine_ras(h, shape), &affine) {
            return h.clone();
        }
    }
    let mut h = match kept {
        Some(h) => h,
        None => NiftiHeader { xyzt_units: 2, ..NiftiHeader::default() },
    };
    let g = &volume.geometry;
    let mut dir_ras = g.direction;
    for row in dir_ras.iter_mut().take(2) {
        for v in row.iter_mut() {
            *v = -*v;
        }
    }
    let (bcd, qfac) = quatern_of(dir_ras);
    h.qform_code = if h.qform_code > 0 { h.qform_code } else { 1 };
    h.sform_code = if h.sform_code > 0 { h.sform_code } else { 1 };
    h.quatern_b = bcd[0] as f32;
    h.quatern_c = bcd[1] as f32;
    h.quatern_d = bcd[2] as f32;
    h.quatern_x = affine[0][3] as f32;
    h.quatern_y = affine[1][3] as f32;
    h.quatern_z = affine[2][3] as f32;
    h.pixdim[0] = qfac as f32;
    for i in 0..3 {
        h.pixdim[i + 1] = g.spacing_xyz_mm[i] as f32;
    }
    let row = |r: usize| [affine[r][0] as f32, affine[r][1] as f32, affine[r][2] as f32, affine[r][3] as f32];
    h.srow_x = row(0);
    h.srow_y = row(1);
    h.srow_z = row(2);
    h.cal_min = 0.0;
    h.cal_max = 0.0;
    debug_assert!(invert3(&g.direction).is_some());
    h
}

/// Writes a volume as `.nii` or `.nii.gz` (by the path), atomically.
pub fn write<T: Element>(path: &Path, volume: &Volume<T>) -> Result<()> {
    let mut header = header_for(volume);
    header.dim = [3, 1, 1, 1, 1, 1, 1, 1];
    let gz = path.to_string_lossy().to_ascii_lowercase().ends_with(".gz");
    write_atomically(path, |tmp| {
        let data = volume.data.as_standard_layout();
        nifti::writer::WriterOptions::new(tmp)
            .reference_header(&header)
            .compress(gz)
            .write_nifti_with_type(&data.view().reversed_axes(), nifti_type(T::DTYPE))
            .map_err(|e| match e {
                nifti::NiftiError::Io(e) => Error::io(path, e),
                e => Error::format(path, format!("writing NIfTI: {e}")),
            })
    })
}
