//! MetaImage (`.mhd` + `.raw`/`.zraw`, or `.mha` with the data inside): the format LUNA16
//! ships in. Hand-written (no crate reads it well); small on purpose.
//!
//! Header keys read: `NDims` (2 or 3), `DimSize`, `ElementType`, `ElementSpacing`
//! (or `ElementSize`), `Offset` (alias `Position`, `Origin`), `TransformMatrix` (alias
//! `Rotation`, `Orientation`), `ElementByteOrderMSB` / `BinaryDataByteOrderMSB`,
//! `CompressedData` (zlib), `HeaderSize`, `ElementNumberOfChannels` (must be 1) and, last,
//! `ElementDataFile` (`LOCAL` or a file name relative to the header). Other keys
//! (`AnatomicalOrientation`, `CenterOfRotation`, ...) are accepted and ignored.
//!
//! `TransformMatrix` lists the direction cosines axis by axis, as ITK writes and reads it:
//! values `3a..3a+3` are the LPS direction of voxel axis `a` (column `a` of
//! [`Geometry::direction`]).
use crate::error::{Error, Result};
use crate::{dyn_from_bytes, write_atomically};
use flate2::read::ZlibDecoder;
use iw_core::volume::{DType, DynVolume, Element, Geometry, Volume};
use std::io::{Read, Write};
use std::path::Path;

/// How to write a MetaImage.
#[derive(Debug, Clone, Copy, Default)]
pub struct WriteOptions {
    /// zlib-compress the voxels (`CompressedData = True`, data file `.zraw` for `.mhd`).
    pub compress: bool,
}

fn met_type(name: &str) -> Option<DType> {
    Some(match name {
        "MET_UCHAR" => DType::U8,
        "MET_CHAR" => DType::I8,
        "MET_USHORT" => DType::U16,
        "MET_SHORT" => DType::I16,
        "MET_UINT" | "MET_ULONG" => DType::U32,
        "MET_INT" | "MET_LONG" => DType::I32,
        "MET_ULONG_LONG" => DType::U64,
        "MET_LONG_LONG" => DType::I64,
        "MET_FLOAT" => DType::F32,
        "MET_DOUBLE" => DType::F64,
        _ => return None,
    })
}

fn met_name(d: DType) -> &'static str {
    match d {
        DType::U8 => "MET_UCHAR",
        DType::I8 => "MET_CHAR",
        DType::U16 => "MET_USHORT",
        DType::I16 => "MET_SHORT",
        DType::U32 => "MET_UINT",
        DType::I32 => "MET_INT",
        DType::U64 => "MET_ULONG_LONG",
        DType::I64 => "MET_LONG_LONG",
        DType::F32 => "MET_FLOAT",
        DType::F64 => "MET_DOUBLE",
    }
}

struct Header {
    dims_xyz: [usize; 3],
    dtype: DType,
    geometry: Geometry,
    big_endian: bool,
    compressed: bool,
    compressed_size: Option<usize>,
    header_size: i64,
    data_file: String,
    /// The voxels' size in bytes (DimSize x the element size), checked not to overflow.
    data_bytes: u64,
    /// Byte offset of the first voxel byte when the data is LOCAL.
    local_offset: usize,
}

fn parse_bool(path: &Path, key: &str, v: &str) -> Result<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(Error::format(path, format!("{key} = {v:?}: expected True or False"))),
    }
}

fn parse_nums(path: &Path, key: &str, v: &str, n: usize) -> Result<Vec<f64>> {
    let nums: std::result::Result<Vec<f64>, _> = v.split_whitespace().map(str::parse::<f64>).collect();
    match nums {
        Ok(x) if x.len() >= n && x.iter().all(|f| f.is_finite()) => Ok(x[..n].to_vec()),
        _ => Err(Error::format(path, format!("{key} = {v:?}: expected {n} finite numbers"))),
    }
}

fn parse_header(path: &Path, bytes: &[u8]) -> Result<Header> {
    let mut kv: Vec<(String, String)> = Vec::new();
    let mut pos = 0usize;
    let mut data_file = None;
    while pos < bytes.len() {
        let end = bytes[pos..].iter().position(|&b| b == b'\n').map_or(bytes.len(), |e| pos + e);
        let line = std::str::from_utf8(&bytes[pos..end])
            .map_err(|_| Error::format(path, format!("header line at byte {pos} is not text")))?;
        pos = (end + 1).min(bytes.len());
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            return Err(Error::format(path, format!("header line {line:?} is not 'Key = Value'")));
        };
        let (k, v) = (k.trim().to_string(), v.trim().to_string());
        if k == "ElementDataFile" {
            data_file = Some(v);
            break;
        }
        kv.push((k, v));
    }
    let local_offset = pos;
    let data_file = data_file
        .ok_or_else(|| Error::format(path, "no ElementDataFile line (truncated or not a MetaImage header)"))?;
    let get = |keys: &[&str]| kv.iter().rev().find(|(k, _)| keys.contains(&k.as_str())).map(|(_, v)| v.as_str());
    let ndims: usize = get(&["NDims"])
        .ok_or_else(|| Error::format(path, "missing NDims"))?
        .parse()
        .map_err(|_| Error::format(path, "NDims is not an integer"))?;
    if !(2..=3).contains(&ndims) {
        return Err(Error::unsupported(path, format!("NDims = {ndims}; iw reads 2D and 3D images")));
    }
    if let Some(obj) = get(&["ObjectType"]) {
        if obj != "Image" {
            return Err(Error::unsupported(path, format!("ObjectType = {obj}")));
        }
    }
    if let Some(ch) = get(&["ElementNumberOfChannels"]) {
        if ch.trim() != "1" {
            return Err(Error::unsupported(path, format!("ElementNumberOfChannels = {ch}; iw reads scalar images")));
        }
    }
    let dims =
        parse_nums(path, "DimSize", get(&["DimSize"]).ok_or_else(|| Error::format(path, "missing DimSize"))?, ndims)?;
    if dims.iter().any(|&d| d < 1.0 || d.fract() != 0.0) {
        return Err(Error::format(path, format!("DimSize {dims:?} must be positive integers")));
    }
    let mut dims_xyz = [1usize; 3];
    for (i, d) in dims.iter().enumerate() {
        dims_xyz[i] = *d as usize;
    }
    let et = get(&["ElementType"]).ok_or_else(|| Error::format(path, "missing ElementType"))?;
    let dtype = met_type(et).ok_or_else(|| Error::unsupported(path, format!("ElementType {et}")))?;
    let data_bytes = dims
        .iter()
        .try_fold(dtype.size() as u64, |acc, &d| if d < 2f64.powi(53) { acc.checked_mul(d as u64) } else { None })
        .filter(|&b| b <= isize::MAX as u64)
        .ok_or_else(|| {
            Error::format(path, format!("DimSize = {dims:?}: {et} voxels of that many overflow the address space"))
        })?;
    let mut geometry = Geometry::default();
    if let Some(v) = get(&["ElementSpacing", "ElementSize"]) {
        for (i, s) in parse_nums(path, "ElementSpacing", v, ndims)?.into_iter().enumerate() {
            geometry.spacing_xyz_mm[i] = s;
        }
    }
    if let Some(v) = get(&["Offset", "Position", "Origin"]) {
        for (i, s) in parse_nums(path, "Offset", v, ndims)?.into_iter().enumerate() {
            geometry.origin_xyz_mm[i] = s;
        }
    }
    if let Some(v) = get(&["TransformMatrix", "Rotation", "Orientation"]) {
        let m = parse_nums(path, "TransformMatrix", v, ndims * ndims)?;
        for axis in 0..ndims {
            for comp in 0..ndims {
                geometry.direction[comp][axis] = m[axis * ndims + comp];
            }
        }
    }
    geometry.validate().map_err(|m| Error::format(path, m))?;
    let big_endian = match get(&["ElementByteOrderMSB", "BinaryDataByteOrderMSB"]) {
        Some(v) => parse_bool(path, "ElementByteOrderMSB", v)?,
        None => false,
    };
    let compressed = match get(&["CompressedData"]) {
        Some(v) => parse_bool(path, "CompressedData", v)?,
        None => false,
    };
    let compressed_size = get(&["CompressedDataSize"]).and_then(|v| v.parse().ok());
    let header_size = get(&["HeaderSize"]).map_or(Ok(0), |v| {
        v.parse::<i64>().map_err(|_| Error::format(path, format!("HeaderSize = {v:?} is not an integer")))
    })?;
    Ok(Header {
        dims_xyz,
        dtype,
        geometry,
        big_endian,
        compressed,
        compressed_size,
        header_size,
        data_file,
        data_bytes,
        local_offset,
    })
}

/// The files a `.mhd` header stands for besides itself: the data file it names (when it exists
/// and names one in its folder) and the `.raw` and `.zraw` beside it that [`write`] writes; none
/// for other paths (`.mha` holds its data). Output guards compare these with the inputs' files.
pub fn data_files(path: &Path) -> Vec<std::path::PathBuf> {
    let entry = |line: &str| {
        let (k, v) = line.split_once('=')?;
        let v = v.trim();
        (k.trim() == "ElementDataFile" && v != "LOCAL" && check_data_file_name(path, v).is_ok()).then(|| v.to_string())
    };
    crate::detached_data_files(path, "mhd", entry, &["raw", "zraw"])
}

/// Checks that `ElementDataFile` names a file in the header's folder ([`crate::check_data_file_name`]).
fn check_data_file_name(path: &Path, df: &str) -> Result<()> {
    crate::check_data_file_name(
        path,
        "ElementDataFile = ",
        df,
        "one file per slice",
        "LOCAL or a file name in the header's folder",
    )
}

/// Reads a `.mhd` or `.mha` file. Only the declared number of bytes is read from the data file,
/// after that number has been checked against its length.
pub fn read(path: &Path) -> Result<DynVolume> {
    use std::io::{Seek, SeekFrom};
    // A header is small: read up to 64 KiB of it.
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut head = Vec::new();
    Read::by_ref(&mut f).take(1 << 16).read_to_end(&mut head).map_err(|e| Error::io(path, e))?;
    let header = parse_header(path, &head)?;
    let (data_path, mut data, data_start) = if header.data_file == "LOCAL" {
        (path.to_path_buf(), f, header.local_offset as u64)
    } else {
        check_data_file_name(path, &header.data_file)?;
        let p = path.parent().unwrap_or(Path::new(".")).join(&header.data_file);
        let d = std::fs::File::open(&p).map_err(|e| Error::io(&p, e))?;
        (p, d, 0)
    };
    let file_len = data.metadata().map_err(|e| Error::io(&data_path, e))?.len();
    let data_len = file_len.saturating_sub(data_start);
    data.seek(SeekFrom::Start(data_start)).map_err(|e| Error::io(&data_path, e))?;
    decode(&header, &data_path, std::io::BufReader::new(data), data_len)
}

/// Reads a MetaImage from the bytes of its header and of its data: the data follow the header
/// in `header` when `ElementDataFile = LOCAL` (`data` is then ignored), else they are `data`
/// (the detached file, which must be given). Errors name the file `<bytes>`. The entry point of
/// the fuzz target `metaimage`.
pub fn read_bytes(header: &[u8], data: Option<&[u8]>) -> Result<DynVolume> {
    let path = Path::new("<bytes>");
    let head = &header[..header.len().min(1 << 16)];
    let h = parse_header(path, head)?;
    let stored = if h.data_file == "LOCAL" {
        &header[h.local_offset..]
    } else {
        check_data_file_name(path, &h.data_file)?;
        data.ok_or_else(|| Error::format(path, format!("no data for ElementDataFile = {}", h.data_file)))?
    };
    decode(&h, path, stored, stored.len() as u64)
}

/// The voxels from `stored` (`stored_len` bytes: the data file, or what follows a LOCAL header).
fn decode(header: &Header, data_path: &Path, mut stored: impl Read, stored_len: u64) -> Result<DynVolume> {
    let n_bytes = header.data_bytes;
    let short =
        |got: u64| Error::format(data_path, format!("data ends after {got} of {n_bytes} bytes (truncated file)"));
    let raw: Vec<u8> = if header.compressed {
        let src_len = header.compressed_size.map_or(stored_len, |s| (s as u64).min(stored_len));
        if n_bytes > src_len.saturating_mul(crate::nifti::MAX_DEFLATE_RATIO) {
            return Err(Error::format(
                data_path,
                format!(
                    "DimSize declares {n_bytes} bytes, more than {src_len} zlib bytes can hold \
                     (deflate expands at most {}:1): truncated or corrupt file",
                    crate::nifti::MAX_DEFLATE_RATIO
                ),
            ));
        }
        let mut out = vec![0u8; n_bytes as usize];
        let got = crate::read_up_to(&mut ZlibDecoder::new(stored.take(src_len)), &mut out)
            .map_err(|e| Error::format(data_path, format!("corrupt zlib data: {e}")))?;
        if (got as u64) < n_bytes {
            return Err(short(got as u64));
        }
        out
    } else {
        let start = if header.header_size >= 0 {
            header.header_size as u64
        } else {
            stored_len.saturating_sub(n_bytes) // HeaderSize = -1: data is the file's tail
        };
        let available = stored_len.saturating_sub(start);
        if available < n_bytes {
            return Err(short(available));
        }
        std::io::copy(&mut (&mut stored).take(start), &mut std::io::sink()).map_err(|e| Error::io(data_path, e))?;
        let mut out = vec![0u8; n_bytes as usize];
        let got = crate::read_up_to(&mut stored, &mut out).map_err(|e| Error::io(data_path, e))?;
        if (got as u64) < n_bytes {
            return Err(short(got as u64));
        }
        out
    };
    let [x, y, z] = header.dims_xyz;
    dyn_from_bytes(header.dtype, &raw, header.big_endian, [z, y, x], header.geometry.clone())
}

fn fmt_nums(v: &[f64]) -> String {
    v.iter().map(|x| format!("{x}")).collect::<Vec<_>>().join(" ")
}

/// Writes a volume as `.mhd` (+ `.raw` or `.zraw`) or `.mha`, atomically: both files or neither.
pub fn write<T: Element>(path: &Path, volume: &Volume<T>, options: WriteOptions) -> Result<()> {
    let local = path.to_string_lossy().to_ascii_lowercase().ends_with(".mha");
    let g = &volume.geometry;
    let [z, y, x] = volume.shape_zyx();
    let data = volume.data.as_standard_layout();
    let mut payload: Vec<u8> = bytemuck::cast_slice::<T, u8>(data.as_slice().expect("standard layout")).to_vec();
    if cfg!(target_endian = "big") {
        for c in payload.chunks_exact_mut(std::mem::size_of::<T>()) {
            c.reverse();
        }
    }
    if options.compress {
        let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(&payload).map_err(|e| Error::io(path, e))?;
        payload = enc.finish().map_err(|e| Error::io(path, e))?;
    }
    let mut tm = Vec::with_capacity(9);
    for axis in 0..3 {
        for comp in 0..3 {
            tm.push(g.direction[comp][axis]);
        }
    }
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let data_name = format!("{stem}.{}", if options.compress { "zraw" } else { "raw" });
    let mut header = format!(
        "ObjectType = Image\nNDims = 3\nBinaryData = True\nBinaryDataByteOrderMSB = False\nCompressedData = {}\n",
        if options.compress { "True" } else { "False" }
    );
    if options.compress {
        header += &format!("CompressedDataSize = {}\n", payload.len());
    }
    header += &format!(
        "TransformMatrix = {}\nOffset = {}\nCenterOfRotation = 0 0 0\nElementSpacing = {}\nDimSize = {x} {y} {z}\nElementType = {}\nElementDataFile = {}\n",
        fmt_nums(&tm),
        fmt_nums(&g.origin_xyz_mm),
        fmt_nums(&g.spacing_xyz_mm),
        met_name(T::DTYPE),
        if local { "LOCAL" } else { &data_name },
    );
    if local {
        write_atomically(path, |tmp| {
            let mut f = std::fs::File::create(tmp).map_err(|e| Error::io(path, e))?;
            f.write_all(header.as_bytes()).and_then(|_| f.write_all(&payload)).map_err(|e| Error::io(path, e))
        })
    } else {
        write_pair(path, header.as_bytes(), &path.with_file_name(&data_name), &payload)
    }
}

/// Writes a header and its data file as a pair: both temporary files first, then the data file
/// is renamed into place, then the header; when anything fails, neither new file is left.
pub(crate) fn write_pair(header_path: &Path, header: &[u8], data_path: &Path, data: &[u8]) -> Result<()> {
    let (tmp_data, tmp_header) = (iw_core::atomic::temp_path(data_path), iw_core::atomic::temp_path(header_path));
    let cleanup = |extra: Option<&Path>| {
        for p in [Some(tmp_data.as_path()), Some(tmp_header.as_path()), extra].into_iter().flatten() {
            let _ = std::fs::remove_file(p);
        }
    };
    let written = std::fs::write(&tmp_data, data)
        .map_err(|e| Error::io(data_path, e))
        .and_then(|_| std::fs::write(&tmp_header, header).map_err(|e| Error::io(header_path, e)));
    if let Err(e) = written {
        cleanup(None);
        return Err(e);
    }
    if let Err(e) = std::fs::rename(&tmp_data, data_path) {
        cleanup(None);
        return Err(Error::io(data_path, e));
    }
    if let Err(e) = std::fs::rename(&tmp_header, header_path) {
        cleanup(Some(data_path));
        return Err(Error::io(header_path, e));
    }
    Ok(())
}
