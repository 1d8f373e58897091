//! NRRD (`.nrrd` with the data after the header, `.nhdr` with a detached data file): the format
//! 3D Slicer, MITK and pyradiomics write. Hand-written after teem's format definition
//! (<https://teem.sourceforge.net/nrrd/format.html>), small on purpose.
//!
//! Fields read: `type` (every teem spelling of the ten scalar types), `dimension`, `sizes`,
//! `encoding` (`raw`, `gzip`/`gz`, `ascii`/`text`/`txt`, `hex`; `bzip2` is refused), `endian`
//! (required for multi-byte binary data), `space` or `space dimension`, `space directions`,
//! `space origin`, `spacings` (when there is no space), `kinds`, `line skip`, `byte skip` and
//! `data file` (a file name in the header's folder). Other fields and `key:=value` pairs are
//! accepted and ignored. Field names are case-insensitive.
//!
//! World coordinates are mapped to iw's LPS frame: `right-anterior-superior` (`RAS`) negates
//! the first two components of every direction and of the origin, `left-anterior-superior`
//! (`LAS`) the second; `left-posterior-superior` (`LPS`), `scanner-xyz`, `3D-right-handed`,
//! `3D-left-handed` and a bare `space dimension: 3` are taken as they are (what ITK and
//! SimpleITK do). Spacing is the length of each axis' space direction, the direction its unit
//! vector. Without a space, `spacings` give the spacing (1 where absent or NaN), the direction is
//! the identity and the origin 0. Axes whose direction is `none` (or whose kind is not a spatial
//! one) must have one sample: iw reads scalar 2D and 3D volumes.
//!
//! Sizes are checked against the data before anything is allocated for the voxels: raw data
//! against the file's length, gzip data against what deflate can expand the file to (1032:1),
//! ascii and hex data against the number of characters.
use crate::error::{Error, Result};
use crate::{dyn_from_bytes, write_atomically};
use flate2::read::MultiGzDecoder;
use iw_core::volume::{DType, DynVolume, Element, Geometry, Volume};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The most header bytes read: a header is a few hundred bytes; 1 MiB bounds a hostile one.
const MAX_HEADER: u64 = 1 << 20;
/// teem's `NRRD_DIM_MAX`.
const MAX_DIMENSION: usize = 16;

/// How to write a NRRD file.
#[derive(Debug, Clone, Copy)]
pub struct WriteOptions {
    /// gzip-compress the voxels (`encoding: gzip`; the detached file of a `.nhdr` is then
    /// `<stem>.raw.gz`, else `<stem>.raw`). The default, as 3D Slicer writes.
    pub compress: bool,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions { compress: true }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Raw,
    Gzip,
    Ascii,
    Hex,
}

struct Header {
    dims_xyz: [usize; 3],
    dtype: DType,
    geometry: Geometry,
    big_endian: bool,
    encoding: Encoding,
    data_file: Option<String>,
    byte_skip: i64,
    line_skip: u64,
    /// The voxels' size in bytes, checked not to overflow.
    data_bytes: u64,
    /// Byte offset of the first data byte when the data is attached.
    attached_offset: usize,
}

fn nrrd_type(name: &str) -> Option<DType> {
    let name = name.split_whitespace().collect::<Vec<_>>().join(" ").to_ascii_lowercase();
    Some(match name.as_str() {
        "signed char" | "int8" | "int8_t" => DType::I8,
        "uchar" | "unsigned char" | "uint8" | "uint8_t" => DType::U8,
        "short" | "short int" | "signed short" | "signed short int" | "int16" | "int16_t" => DType::I16,
        "ushort" | "unsigned short" | "unsigned short int" | "uint16" | "uint16_t" => DType::U16,
        "int" | "signed int" | "int32" | "int32_t" => DType::I32,
        "uint" | "unsigned int" | "uint32" | "uint32_t" => DType::U32,
        "longlong"
        | "long long"
        | "long long int"
        | "signed long long"
        | "signed long long int"
        | "int64"
        | "int64_t" => DType::I64,
        "ulonglong" | "unsigned long long" | "unsigned long long int" | "uint64" | "uint64_t" => DType::U64,
        "float" => DType::F32,
        "double" => DType::F64,
        _ => return None,
    })
}

/// teem's canonical spelling, what ITK writes.
fn nrrd_name(d: DType) -> &'static str {
    match d {
        DType::I8 => "signed char",
        DType::U8 => "unsigned char",
        DType::I16 => "short",
        DType::U16 => "unsigned short",
        DType::I32 => "int",
        DType::U32 => "unsigned int",
        DType::I64 => "long long int",
        DType::U64 => "unsigned long long int",
        DType::F32 => "float",
        DType::F64 => "double",
    }
}

/// The sign each world component gets to become LPS, and the space's dimension.
fn space_of(path: &Path, v: &str) -> Result<([f64; 3], usize)> {
    Ok(match v.trim().to_ascii_lowercase().as_str() {
        "right-anterior-superior" | "ras" => ([-1.0, -1.0, 1.0], 3),
        "left-anterior-superior" | "las" => ([1.0, -1.0, 1.0], 3),
        "left-posterior-superior" | "lps" => ([1.0, 1.0, 1.0], 3),
        "scanner-xyz" | "3d-right-handed" | "3d-left-handed" => ([1.0, 1.0, 1.0], 3),
        "right-anterior-superior-time"
        | "rast"
        | "left-anterior-superior-time"
        | "last"
        | "left-posterior-superior-time"
        | "lpst"
        | "scanner-xyz-time"
        | "3d-right-handed-time"
        | "3d-left-handed-time" => {
            return Err(Error::unsupported(
                path,
                format!("space: {} (a 4D space); iw reads 2D and 3D volumes", v.trim()),
            ))
        }
        _ => return Err(Error::format(path, format!("space: {:?} is not a NRRD space", v.trim()))),
    })
}

fn parse_num(path: &Path, key: &str, s: &str) -> Result<f64> {
    s.trim().parse::<f64>().map_err(|_| Error::format(path, format!("{key}: {s:?} is not a number")))
}

/// `(a,b,c)` vectors and `none`, separated by whitespace (spaces inside parentheses allowed).
fn parse_vectors(path: &Path, key: &str, v: &str, len: usize) -> Result<Vec<Option<Vec<f64>>>> {
    let mut out = Vec::new();
    let mut rest = v.trim();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('(') {
            let close = r.find(')').ok_or_else(|| Error::format(path, format!("{key}: unclosed '(' in {v:?}")))?;
            let comps = r[..close].split(',').map(|c| parse_num(path, key, c)).collect::<Result<Vec<f64>>>()?;
            if comps.len() != len || comps.iter().any(|c| !c.is_finite()) {
                return Err(Error::format(
                    path,
                    format!("{key}: ({}) must be {len} finite numbers (the space dimension)", &r[..close]),
                ));
            }
            out.push(Some(comps));
            rest = r[close + 1..].trim_start();
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            if !rest[..end].eq_ignore_ascii_case("none") {
                return Err(Error::format(path, format!("{key}: {:?} is neither a (vector) nor none", &rest[..end])));
            }
            out.push(None);
            rest = rest[end..].trim_start();
        }
        if out.len() > MAX_DIMENSION {
            return Err(Error::format(path, format!("{key}: more than {MAX_DIMENSION} entries")));
        }
    }
    Ok(out)
}

/// Kinds of axes that hold samples of space (or are of unknown kind).
fn is_spatial_kind(kind: &str) -> bool {
    matches!(kind.to_ascii_lowercase().as_str(), "domain" | "space" | "time" | "none" | "???")
}

fn parse_header(path: &Path, bytes: &[u8], whole_file: bool) -> Result<Header> {
    // The magic line.
    let first_end = bytes.iter().position(|&b| b == b'\n').unwrap_or(bytes.len());
    let magic = String::from_utf8_lossy(&bytes[..first_end]);
    let magic = magic.trim_end_matches('\r');
    match magic.strip_prefix("NRRD000") {
        Some("1" | "2" | "3" | "4" | "5") => {}
        _ => {
            let shown: String = magic.chars().take(16).collect();
            return Err(Error::format(
                path,
                format!("not a NRRD file (first line {shown:?}, expected NRRD0001..NRRD0005)"),
            ));
        }
    }
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut pos = (first_end + 1).min(bytes.len());
    let mut attached_offset = None;
    while pos < bytes.len() {
        let end = bytes[pos..].iter().position(|&b| b == b'\n').map(|e| pos + e);
        let Some(end) = end else {
            if !whole_file {
                return Err(Error::format(
                    path,
                    format!("header line at byte {pos} has no end within {MAX_HEADER} bytes"),
                ));
            }
            // The last line of a detached header may lack its newline.
            let line = std::str::from_utf8(&bytes[pos..])
                .map_err(|_| Error::format(path, format!("header line at byte {pos} is not text")))?;
            if !line.trim().is_empty() {
                push_field(path, &mut fields, line)?;
            }
            pos = bytes.len();
            break;
        };
        let line = std::str::from_utf8(&bytes[pos..end])
            .map_err(|_| Error::format(path, format!("header line at byte {pos} is not text")))?;
        pos = end + 1;
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            attached_offset = Some(pos);
            break;
        }
        push_field(path, &mut fields, line)?;
    }
    let get = |k: &str| fields.iter().find(|(f, _)| f == k).map(|(_, v)| v.as_str());
    let data_file = get("data file").map(|s| s.trim().to_string());
    if data_file.is_none() && attached_offset.is_none() {
        return Err(Error::format(
            path,
            "the header ends without the blank line that precedes attached data and names no data file (truncated?)",
        ));
    }
    let attached_offset = attached_offset.unwrap_or(pos);

    let t = get("type").ok_or_else(|| Error::format(path, "missing field 'type'"))?;
    let dtype = nrrd_type(t).ok_or_else(|| {
        if t.trim().eq_ignore_ascii_case("block") {
            Error::unsupported(path, "type: block")
        } else {
            Error::format(path, format!("type: {:?} is not a NRRD type", t.trim()))
        }
    })?;
    let dimension: usize = get("dimension")
        .ok_or_else(|| Error::format(path, "missing field 'dimension'"))?
        .trim()
        .parse()
        .ok()
        .filter(|d| (1..=MAX_DIMENSION).contains(d))
        .ok_or_else(|| Error::format(path, format!("dimension: must be an integer in 1..={MAX_DIMENSION}")))?;
    let sizes_text = get("sizes").ok_or_else(|| Error::format(path, "missing field 'sizes'"))?;
    let sizes = sizes_text
        .split_whitespace()
        .map(|s| s.parse::<u64>().ok().filter(|&n| n >= 1))
        .collect::<Option<Vec<u64>>>()
        .filter(|s| s.len() == dimension)
        .ok_or_else(|| {
            Error::format(path, format!("sizes: {:?} must be {dimension} positive integers", sizes_text.trim()))
        })?;
    let data_bytes = sizes
        .iter()
        .try_fold(dtype.size() as u64, |acc, &d| acc.checked_mul(d))
        .filter(|&b| b <= isize::MAX as u64)
        .ok_or_else(|| {
            Error::format(
                path,
                format!(
                    "sizes: {}: {} voxels of that many overflow the address space",
                    sizes_text.trim(),
                    nrrd_name(dtype)
                ),
            )
        })?;
    let encoding = match get("encoding")
        .ok_or_else(|| Error::format(path, "missing field 'encoding'"))?
        .trim()
        .to_ascii_lowercase()
        .as_str()
    {
        "raw" => Encoding::Raw,
        "gzip" | "gz" => Encoding::Gzip,
        "ascii" | "text" | "txt" => Encoding::Ascii,
        "hex" => Encoding::Hex,
        "bzip2" | "bz2" => return Err(Error::unsupported(path, "encoding: bzip2 (write raw or gzip)")),
        e => return Err(Error::format(path, format!("encoding: {e:?} is not a NRRD encoding"))),
    };
    let big_endian = match get("endian").map(|e| e.trim().to_ascii_lowercase()) {
        Some(e) if e == "big" => true,
        Some(e) if e == "little" => false,
        Some(e) => return Err(Error::format(path, format!("endian: {e:?} (expected little or big)"))),
        None if dtype.size() > 1 && matches!(encoding, Encoding::Raw | Encoding::Gzip | Encoding::Hex) => {
            return Err(Error::format(path, format!("missing field 'endian' ({} data)", nrrd_name(dtype))))
        }
        None => false,
    };
    let skip_num = |key: &str| -> Result<i64> {
        get(key).map_or(Ok(0), |v| {
            v.trim()
                .parse::<i64>()
                .ok()
                .filter(|&n| n >= -1)
                .ok_or_else(|| Error::format(path, format!("{key}: {:?} is not an integer >= -1", v.trim())))
        })
    };
    let byte_skip = skip_num("byte skip")?;
    let line_skip = skip_num("line skip")?;
    if line_skip < 0 {
        return Err(Error::format(path, "line skip: must be >= 0"));
    }
    if byte_skip == -1 && encoding != Encoding::Raw {
        return Err(Error::format(path, "byte skip: -1 (data at the end of the file) needs encoding raw"));
    }

    // Which axes are spatial, and their geometry.
    let (flip, space_dim) = match (get("space"), get("space dimension")) {
        (Some(_), Some(_)) => return Err(Error::format(path, "both 'space' and 'space dimension' given")),
        (Some(s), None) => {
            let (f, d) = space_of(path, s)?;
            (f, Some(d))
        }
        (None, Some(d)) => {
            let d: usize = d.trim().parse().map_err(|_| Error::format(path, "space dimension: not an integer"))?;
            if !(2..=3).contains(&d) {
                return Err(Error::unsupported(path, format!("space dimension: {d}; iw reads 2D and 3D volumes")));
            }
            ([1.0; 3], Some(d))
        }
        (None, None) => ([1.0; 3], None),
    };
    let kinds: Option<Vec<&str>> = get("kinds").map(|k| k.split_whitespace().collect());
    if let Some(k) = &kinds {
        if k.len() != dimension {
            return Err(Error::format(path, format!("kinds: {} entries for dimension {dimension}", k.len())));
        }
    }
    let directions = match (get("space directions"), space_dim) {
        (Some(_), None) => return Err(Error::format(path, "space directions given without a space")),
        (Some(v), Some(sd)) => {
            let d = parse_vectors(path, "space directions", v, sd)?;
            if d.len() != dimension {
                return Err(Error::format(
                    path,
                    format!("space directions: {} entries for dimension {dimension}", d.len()),
                ));
            }
            Some(d)
        }
        (None, _) => None,
    };
    let mut spatial = Vec::new(); // the spatial axes, fastest first
    for (axis, &size) in sizes.iter().enumerate() {
        let is_spatial = match &directions {
            Some(d) => d[axis].is_some(),
            None => kinds.as_ref().is_none_or(|k| is_spatial_kind(k[axis])),
        };
        if is_spatial {
            spatial.push(axis);
        } else if size > 1 {
            let kind = kinds.as_ref().map_or("none", |k| k[axis]);
            return Err(Error::unsupported(
                path,
                format!("axis {axis} ({kind}, {size} samples) is not spatial: iw reads scalar volumes"),
            ));
        }
    }
    if !(2..=3).contains(&spatial.len()) {
        return Err(Error::unsupported(path, format!("{} spatial axes; iw reads 2D and 3D volumes", spatial.len())));
    }
    let mut dims_xyz = [1usize; 3];
    for (i, &axis) in spatial.iter().enumerate() {
        dims_xyz[i] = sizes[axis] as usize;
    }
    let mut geometry = Geometry::default();
    if let Some(dirs) = &directions {
        let mut cols = [[0.0f64; 3]; 3];
        for (i, &axis) in spatial.iter().enumerate() {
            let v = dirs[axis].as_ref().expect("spatial axes have a direction");
            let mut c = [0.0; 3];
            for (r, x) in v.iter().enumerate() {
                c[r] = x * flip[r];
            }
            let norm = c.iter().map(|x| x * x).sum::<f64>().sqrt();
            if !(norm.is_finite() && norm > 0.0) {
                return Err(Error::format(path, format!("space directions: axis {axis} has length {norm}")));
            }
            geometry.spacing_xyz_mm[i] = norm;
            cols[i] = c.map(|x| x / norm);
        }
        // A 2D image: the third axis is the unit normal of the other two.
        if spatial.len() == 2 {
            let [a, b] = [cols[0], cols[1]];
            let n = [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
            let len = n.iter().map(|x| x * x).sum::<f64>().sqrt();
            cols[2] = if len > 0.0 { n.map(|x| x / len) } else { n };
        }
        for (c, col) in cols.iter().enumerate() {
            for r in 0..3 {
                geometry.direction[r][c] = col[r];
            }
        }
    } else if let Some(s) = get("spacings") {
        let sp: Vec<&str> = s.split_whitespace().collect();
        if sp.len() != dimension {
            return Err(Error::format(path, format!("spacings: {} entries for dimension {dimension}", sp.len())));
        }
        for (i, &axis) in spatial.iter().enumerate() {
            let x = parse_num(path, "spacings", sp[axis])?;
            if x.is_finite() && x != 0.0 {
                geometry.spacing_xyz_mm[i] = x.abs();
            }
        }
    }
    match (get("space origin"), space_dim) {
        (Some(_), None) => return Err(Error::format(path, "space origin given without a space")),
        (Some(o), Some(sd)) => {
            let v = parse_vectors(path, "space origin", o, sd)?;
            let [Some(o)] = v.as_slice() else {
                return Err(Error::format(path, format!("space origin: {:?} must be one vector", o.trim())));
            };
            for (r, x) in o.iter().enumerate() {
                geometry.origin_xyz_mm[r] = x * flip[r];
            }
        }
        (None, _) => {}
    }
    geometry.validate().map_err(|m| Error::format(path, m))?;
    Ok(Header {
        dims_xyz,
        dtype,
        geometry,
        big_endian,
        encoding,
        data_file,
        byte_skip,
        line_skip: line_skip as u64,
        data_bytes,
        attached_offset,
    })
}

/// One header line: a comment, a `key:=value` pair (ignored) or a `field: value`.
fn push_field(path: &Path, fields: &mut Vec<(String, String)>, line: &str) -> Result<()> {
    if line.starts_with('#') {
        return Ok(());
    }
    let field_sep = line.find(": ");
    let kv_sep = line.find(":=");
    match (field_sep, kv_sep) {
        (_, Some(k)) if field_sep.is_none_or(|f| k < f) => Ok(()),
        (Some(f), _) => {
            let name = line[..f].trim().to_ascii_lowercase();
            let name = match name.as_str() {
                "datafile" => "data file".to_string(),
                "byteskip" => "byte skip".to_string(),
                "lineskip" => "line skip".to_string(),
                _ => name,
            };
            if fields.iter().any(|(n, _)| *n == name) {
                return Err(Error::format(path, format!("field '{name}' given twice")));
            }
            fields.push((name, line[f + 2..].to_string()));
            Ok(())
        }
        _ => {
            let shown: String = line.chars().take(60).collect();
            Err(Error::format(path, format!("header line {shown:?} is neither 'field: value' nor 'key:=value'")))
        }
    }
}

/// Checks that `data file` names one file in the header's folder ([`crate::check_data_file_name`]).
fn check_data_file_name(path: &Path, df: &str) -> Result<()> {
    crate::check_data_file_name(path, "data file: ", df, "several data files", "a file name in the header's folder")
}

/// The files a `.nhdr` header stands for besides itself: the data file it names (when it names
/// one in its folder) and the `.raw` and `.raw.gz` beside it that [`write`] writes; none for
/// other paths. Output guards compare these with the inputs' files.
pub fn data_files(path: &Path) -> Vec<PathBuf> {
    let entry = |line: &str| {
        let (k, v) = line.split_once(':')?;
        let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
        ((k == "data file" || k == "datafile") && check_data_file_name(path, v).is_ok()).then(|| v.to_string())
    };
    crate::detached_data_files(path, "nhdr", entry, &["raw", "raw.gz"])
}

/// Reads a `.nrrd` or `.nhdr` file. Only the declared number of bytes is read from the data,
/// after that number has been checked against the data's length.
pub fn read(path: &Path) -> Result<DynVolume> {
    use std::io::{Seek, SeekFrom};
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut head = Vec::new();
    Read::by_ref(&mut f).take(MAX_HEADER).read_to_end(&mut head).map_err(|e| Error::io(path, e))?;
    let file_len = f.metadata().map_err(|e| Error::io(path, e))?.len();
    let header = parse_header(path, &head, file_len <= MAX_HEADER)?;
    let (data_path, mut data, data_start) = match &header.data_file {
        None => (path.to_path_buf(), f, header.attached_offset as u64),
        Some(df) => {
            check_data_file_name(path, df)?;
            let p = path.parent().unwrap_or(Path::new(".")).join(df);
            let d = std::fs::File::open(&p).map_err(|e| Error::io(&p, e))?;
            (p, d, 0)
        }
    };
    let len = data.metadata().map_err(|e| Error::io(&data_path, e))?.len();
    data.seek(SeekFrom::Start(data_start)).map_err(|e| Error::io(&data_path, e))?;
    decode(&header, &data_path, std::io::BufReader::new(data), len.saturating_sub(data_start))
}

/// Reads a NRRD volume from the bytes of its header and of its data: the data follow the header
/// in `header` unless it names a data file, which is then `data` (which must be given). Errors
/// name the file `<bytes>`. The entry point of the fuzz target `nrrd`.
pub fn read_bytes(header: &[u8], data: Option<&[u8]>) -> Result<DynVolume> {
    let path = Path::new("<bytes>");
    let head = &header[..header.len().min(MAX_HEADER as usize)];
    let h = parse_header(path, head, header.len() as u64 <= MAX_HEADER)?;
    let stored = match &h.data_file {
        None => &header[h.attached_offset..],
        Some(df) => {
            check_data_file_name(path, df)?;
            data.ok_or_else(|| Error::format(path, format!("no data for data file: {df}")))?
        }
    };
    decode(&h, path, stored, stored.len() as u64)
}

/// Skips `n` lines of `r`; returns the bytes skipped, or None when the data ends first.
fn skip_lines(r: &mut impl Read, n: u64, limit: u64) -> std::io::Result<Option<u64>> {
    let (mut lines, mut bytes, mut b) = (0u64, 0u64, [0u8; 1]);
    while lines < n {
        if bytes >= limit || r.read(&mut b)? == 0 {
            return Ok(None);
        }
        bytes += 1;
        if b[0] == b'\n' {
            lines += 1;
        }
    }
    Ok(Some(bytes))
}

/// The voxels from `stored` (`stored_len` bytes: the data file, or what follows the header).
fn decode(h: &Header, data_path: &Path, stored: impl Read, stored_len: u64) -> Result<DynVolume> {
    let n_bytes = h.data_bytes;
    let short =
        |got: u64| Error::format(data_path, format!("data ends after {got} of {n_bytes} bytes (truncated file)"));
    let mut stored = std::io::BufReader::new(stored);
    let skipped = skip_lines(&mut stored, h.line_skip, stored_len).map_err(|e| Error::io(data_path, e))?;
    let Some(skipped) = skipped else {
        return Err(Error::format(data_path, format!("line skip: the data has fewer than {} lines", h.line_skip)));
    };
    let available = stored_len - skipped;
    let size = h.dtype.size() as u64;
    let n_values = n_bytes / size;
    let skip_bytes = |r: &mut dyn Read, n: u64, what: &str| -> Result<()> {
        let got = std::io::copy(&mut r.take(n), &mut std::io::sink()).map_err(|e| Error::io(data_path, e))?;
        if got < n {
            return Err(Error::format(data_path, format!("byte skip: {n} but the {what} ends after {got} bytes")));
        }
        Ok(())
    };
    let (raw, big_endian): (Vec<u8>, bool) = match h.encoding {
        Encoding::Raw => {
            let start = if h.byte_skip >= 0 { h.byte_skip as u64 } else { available.saturating_sub(n_bytes) };
            let left = available.saturating_sub(start);
            if left < n_bytes {
                return Err(short(left));
            }
            skip_bytes(&mut stored, start, "data")?;
            let mut out = vec![0u8; n_bytes as usize];
            let got = crate::read_up_to(&mut stored, &mut out).map_err(|e| Error::io(data_path, e))?;
            if (got as u64) < n_bytes {
                return Err(short(got as u64));
            }
            (out, h.big_endian)
        }
        Encoding::Gzip => {
            let skip = h.byte_skip as u64;
            let want = n_bytes.saturating_add(skip);
            if want > available.saturating_mul(crate::nifti::MAX_DEFLATE_RATIO) {
                return Err(Error::format(
                    data_path,
                    format!(
                        "sizes declare {n_bytes} bytes, more than {available} gzip bytes can hold \
                         (deflate expands at most {}:1): truncated or corrupt file",
                        crate::nifti::MAX_DEFLATE_RATIO
                    ),
                ));
            }
            let corrupt = |e: std::io::Error| Error::format(data_path, format!("corrupt gzip data: {e}"));
            let mut z = MultiGzDecoder::new((&mut stored).take(available));
            let got = std::io::copy(&mut (&mut z).take(skip), &mut std::io::sink()).map_err(corrupt)?;
            if got < skip {
                return Err(Error::format(data_path, format!("byte skip: {skip} but the gzip data hold {got} bytes")));
            }
            let mut out = vec![0u8; n_bytes as usize];
            let got = crate::read_up_to(&mut z, &mut out).map_err(corrupt)?;
            if (got as u64) < n_bytes {
                return Err(short(got as u64));
            }
            // Read the stream to its end: flate2 checks each member's CRC-32 and ISIZE there.
            std::io::copy(&mut z, &mut std::io::sink()).map_err(corrupt)?;
            (out, h.big_endian)
        }
        Encoding::Ascii | Encoding::Hex => {
            let skip = h.byte_skip as u64;
            let left = available.saturating_sub(skip);
            // Each value takes at least one character (ascii), each byte two (hex).
            let need = if h.encoding == Encoding::Ascii { n_values } else { n_bytes.saturating_mul(2) };
            if left < need {
                return Err(Error::format(
                    data_path,
                    format!("{left} characters of data cannot hold {n_values} values (truncated file)"),
                ));
            }
            skip_bytes(&mut stored, skip, "data")?;
            let mut text = Vec::new();
            stored.take(left).read_to_end(&mut text).map_err(|e| Error::io(data_path, e))?;
            if h.encoding == Encoding::Ascii {
                (parse_ascii(data_path, &text, h.dtype, n_values)?, cfg!(target_endian = "big"))
            } else {
                (parse_hex(data_path, &text, n_bytes)?, h.big_endian)
            }
        }
    };
    let [x, y, z] = h.dims_xyz;
    dyn_from_bytes(h.dtype, &raw, big_endian, [z, y, x], h.geometry.clone())
}

/// `n` values of `dtype` written as text (separated by whitespace or commas), as native bytes.
fn parse_ascii(path: &Path, text: &[u8], dtype: DType, n: u64) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity((n * dtype.size() as u64) as usize);
    let mut count = 0u64;
    for tok in text.split(|b| b.is_ascii_whitespace() || *b == b',').filter(|t| !t.is_empty()) {
        if count == n {
            break;
        }
        let s = std::str::from_utf8(tok).unwrap_or("");
        let bad = || {
            let shown: String = String::from_utf8_lossy(tok).chars().take(24).collect();
            Error::format(path, format!("ascii value {count}: {shown:?} is not a {}", nrrd_name(dtype)))
        };
        macro_rules! value {
            ($t:ty) => {{
                let v: $t = s.parse().map_err(|_| bad())?;
                out.extend_from_slice(&v.to_ne_bytes());
            }};
        }
        match dtype {
            DType::U8 => value!(u8),
            DType::I8 => value!(i8),
            DType::U16 => value!(u16),
            DType::I16 => value!(i16),
            DType::U32 => value!(u32),
            DType::I32 => value!(i32),
            DType::U64 => value!(u64),
            DType::I64 => value!(i64),
            DType::F32 => value!(f32),
            DType::F64 => value!(f64),
        }
        count += 1;
    }
    if count < n {
        return Err(Error::format(path, format!("ascii data end after {count} of {n} values (truncated file)")));
    }
    Ok(out)
}

/// `n` bytes written as pairs of hex digits (whitespace between them allowed).
fn parse_hex(path: &Path, text: &[u8], n: u64) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(n as usize);
    let mut digits = text.iter().filter(|b| !b.is_ascii_whitespace());
    while (out.len() as u64) < n {
        let (Some(a), Some(b)) = (digits.next(), digits.next()) else {
            return Err(Error::format(path, format!("hex data end after {} of {n} bytes (truncated file)", out.len())));
        };
        let hex = |c: u8| (c as char).to_digit(16);
        let (Some(a), Some(b)) = (hex(*a), hex(*b)) else {
            return Err(Error::format(path, format!("hex data: byte {} is not two hex digits", out.len())));
        };
        out.push((a * 16 + b) as u8);
    }
    Ok(out)
}

fn fmt_vec(v: &[f64]) -> String {
    format!("({})", v.iter().map(|x| format!("{x}")).collect::<Vec<_>>().join(","))
}

/// Writes a volume as `.nrrd` (data attached) or `.nhdr` (+ `<stem>.raw` or `<stem>.raw.gz`),
/// atomically: both files or neither. The header says `space: left-posterior-superior`, the
/// space directions (direction times spacing) and origin exactly as iw holds them (shortest
/// round-trip decimals), little-endian data.
pub fn write<T: Element>(path: &Path, volume: &Volume<T>, options: WriteOptions) -> Result<()> {
    let detached = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("nhdr"));
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
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(&payload).map_err(|e| Error::io(path, e))?;
        payload = enc.finish().map_err(|e| Error::io(path, e))?;
    }
    let dirs: Vec<String> =
        (0..3).map(|a| fmt_vec(&[0, 1, 2].map(|r| g.direction[r][a] * g.spacing_xyz_mm[a]))).collect();
    let mut header = format!(
        "NRRD0004\n# Complete NRRD file format specification at:\n# http://teem.sourceforge.net/nrrd/format.html\n\
         type: {}\ndimension: 3\nspace: left-posterior-superior\nsizes: {x} {y} {z}\nspace directions: {}\n\
         kinds: domain domain domain\n",
        nrrd_name(T::DTYPE),
        dirs.join(" "),
    );
    if std::mem::size_of::<T>() > 1 {
        header += "endian: little\n";
    }
    header += &format!(
        "encoding: {}\nspace origin: {}\n",
        if options.compress { "gzip" } else { "raw" },
        fmt_vec(&g.origin_xyz_mm)
    );
    if detached {
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let data_name = format!("{stem}.{}", if options.compress { "raw.gz" } else { "raw" });
        header += &format!("data file: {data_name}\n");
        crate::metaimage::write_pair(path, header.as_bytes(), &path.with_file_name(&data_name), &payload)
    } else {
        header += "\n";
        write_atomically(path, |tmp| {
            let mut f = std::fs::File::create(tmp).map_err(|e| Error::io(path, e))?;
            f.write_all(header.as_bytes()).and_then(|_| f.write_all(&payload)).map_err(|e| Error::io(path, e))
        })
    }
}
