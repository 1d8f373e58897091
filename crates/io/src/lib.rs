//! `iw-io`: reading and writing medical volumes; the format is chosen by the path.
//!
//! | path | format |
//! |---|---|
//! | `*.nii`, `*.nii.gz` | NIfTI-1 ([`nifti`](self::nifti)) |
//! | `*.mhd` (+ `.raw`/`.zraw`), `*.mha` | MetaImage ([`metaimage`]) |
//! | `*.nrrd`, `*.nhdr` (+ its data file) | NRRD ([`nrrd`]) |
//! | a folder, `*.dcm` | DICOM series or single file ([`dicom`]) |
//!
//! Writers never leave a partial file: they write to a hidden temporary file beside the target
//! and rename it into place (`iw_core::atomic`).
//!
//! Volumes are `iw_core`'s [`Volume`] / [`DynVolume`]: C-order `[z, y, x]` voxels and an LPS
//! geometry; NIfTI's RAS affine is converted here, at the reader and the writer.
#![deny(missing_docs)]

pub mod dicom;
mod error;
pub mod metaimage;
pub mod nifti;
pub mod nrrd;

pub use error::{Error, Result};
pub use iw_core::atomic::{write_atomically, write_file_atomically};
use iw_core::{DynVolume, Element, Volume};
use std::path::Path;

/// A file format iw reads or writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// NIfTI-1, gzip-compressed when `gz`.
    Nifti {
        /// `.nii.gz`
        gz: bool,
    },
    /// MetaImage: `.mhd` header with a detached data file, or `.mha` with the data inside.
    MetaImage {
        /// `.mha` (ElementDataFile = LOCAL)
        local: bool,
    },
    /// NRRD: `.nrrd` (data attached, unless its header names a data file) or `.nhdr` (a
    /// detached data file).
    Nrrd {
        /// `.nhdr`
        detached: bool,
    },
    /// DICOM: a series folder or a single (possibly multi-frame) file.
    Dicom,
}

impl Format {
    /// The format a path names (a directory is a DICOM series).
    pub fn from_path(path: &Path) -> Result<Format> {
        if path.is_dir() {
            return Ok(Format::Dicom);
        }
        let name = path.file_name().map(|n| n.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
        if name.ends_with(".nii.gz") {
            Ok(Format::Nifti { gz: true })
        } else if name.ends_with(".nii") {
            Ok(Format::Nifti { gz: false })
        } else if name.ends_with(".mhd") {
            Ok(Format::MetaImage { local: false })
        } else if name.ends_with(".mha") {
            Ok(Format::MetaImage { local: true })
        } else if name.ends_with(".nrrd") {
            Ok(Format::Nrrd { detached: false })
        } else if name.ends_with(".nhdr") {
            Ok(Format::Nrrd { detached: true })
        } else if name.ends_with(".dcm") || name.ends_with(".dicom") {
            Ok(Format::Dicom)
        } else {
            Err(Error::UnknownFormat { path: path.to_path_buf() })
        }
    }
}

/// Reads a volume from any supported format.
pub fn read_volume(path: impl AsRef<Path>) -> Result<DynVolume> {
    let path = path.as_ref();
    if !path.exists() {
        return Err(Error::io(path, std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or directory")));
    }
    match Format::from_path(path)? {
        Format::Nifti { .. } => nifti::read(path),
        Format::MetaImage { .. } => metaimage::read(path),
        Format::Nrrd { .. } => nrrd::read(path),
        Format::Dicom => dicom::read(path),
    }
}

/// Writes a volume in the format its path names (DICOM is read-only).
pub fn write_volume<T: Element>(path: impl AsRef<Path>, volume: &Volume<T>) -> Result<()> {
    let path = path.as_ref();
    volume.geometry.validate().map_err(|m| Error::format(path, m))?;
    match Format::from_path(path)? {
        Format::Nifti { .. } => nifti::write(path, volume),
        Format::MetaImage { .. } => metaimage::write(path, volume, metaimage::WriteOptions::default()),
        Format::Nrrd { .. } => nrrd::write(path, volume, nrrd::WriteOptions::default()),
        Format::Dicom => Err(Error::unsupported(path, "writing DICOM; write .nii.gz, .nrrd or .mhd instead")),
    }
}

/// The files a header path stands for besides itself (a `.mhd`'s or `.nhdr`'s data file, and
/// the data files iw's writers would write beside it); none for single-file formats. Output
/// guards compare these with the inputs' files.
pub fn data_files(path: &Path) -> Vec<std::path::PathBuf> {
    let mut out = metaimage::data_files(path);
    out.extend(nrrd::data_files(path));
    out
}

/// Writes a [`DynVolume`] in the format its path names.
pub fn write_dyn_volume(path: impl AsRef<Path>, volume: &DynVolume) -> Result<()> {
    iw_core::dispatch!(volume, v => write_volume(path, v))
}

/// Reads `n` elements of `T` from bytes stored with the given endianness.
/// The data-file entry of a detached header (MetaImage's `ElementDataFile`, NRRD's `data file`)
/// must name one file in the header's folder, as ITK and Slicer write it: no list or pattern of
/// files, no folder separators, no `..`, not absolute (else any readable file would do).
/// `entry` starts the messages (`data file: `), `several` says why a list is refused and
/// `allowed` what the entry may be.
pub(crate) fn check_data_file_name(path: &Path, entry: &str, df: &str, several: &str, allowed: &str) -> Result<()> {
    if df == "LIST" || df.contains('%') || df.split_whitespace().count() > 1 {
        return Err(Error::unsupported(path, format!("{entry}{df} ({several})")));
    }
    if df.is_empty() || df == "." || df == ".." || df.contains(['/', '\\', '\0']) || Path::new(df).is_absolute() {
        return Err(Error::format(path, format!("{entry}{df:?}: must be {allowed} (no path)")));
    }
    Ok(())
}

/// The files a detached header (extension `header_ext`) stands for besides itself: the data
/// file that `entry(line)` finds in one of its first 64 KiB of lines (a name already checked
/// with [`check_data_file_name`]) and `<stem>.<ext>` beside it for each of `defaults` (what the
/// writers write); none for other paths. Output guards compare these with the inputs' files.
pub(crate) fn detached_data_files(
    path: &Path,
    header_ext: &str,
    entry: impl Fn(&str) -> Option<String>,
    defaults: &[&str],
) -> Vec<std::path::PathBuf> {
    use std::io::Read as _;
    if !path.extension().is_some_and(|e| e.eq_ignore_ascii_case(header_ext)) {
        return Vec::new();
    }
    let dir = path.parent().unwrap_or(Path::new(""));
    let mut out = Vec::new();
    if let Ok(f) = std::fs::File::open(path) {
        let mut head = Vec::new();
        // A header is a few hundred bytes; 64 KiB bounds what a hostile one costs.
        let _ = f.take(64 << 10).read_to_end(&mut head);
        out.extend(String::from_utf8_lossy(&head).lines().filter_map(&entry).map(|v| dir.join(v)));
    }
    let stem = path.file_stem().unwrap_or_default().to_string_lossy().into_owned();
    for ext in defaults {
        let p = dir.join(format!("{stem}.{ext}"));
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

pub(crate) fn elements_from_bytes<T: Element>(bytes: &[u8], big_endian: bool) -> Vec<T> {
    let size = std::mem::size_of::<T>();
    debug_assert_eq!(bytes.len() % size, 0);
    let mut out: Vec<T> = vec![T::default(); bytes.len() / size];
    bytemuck::cast_slice_mut::<T, u8>(&mut out).copy_from_slice(bytes);
    if big_endian != cfg!(target_endian = "big") && size > 1 {
        for chunk in bytemuck::cast_slice_mut::<T, u8>(&mut out).chunks_exact_mut(size) {
            chunk.reverse();
        }
    }
    out
}

/// Builds a [`DynVolume`] of the given dtype from raw bytes.
pub(crate) fn dyn_from_bytes(
    dtype: iw_core::DType,
    bytes: &[u8],
    big_endian: bool,
    shape_zyx: [usize; 3],
    geometry: iw_core::Geometry,
) -> Result<DynVolume> {
    use iw_core::DType;
    fn make<T: Element>(b: &[u8], be: bool, s: [usize; 3], g: iw_core::Geometry) -> Result<Volume<T>> {
        Ok(Volume::new(iw_core::volume::array_from_vec(s, elements_from_bytes::<T>(b, be))?, g))
    }
    Ok(match dtype {
        DType::U8 => make::<u8>(bytes, big_endian, shape_zyx, geometry)?.into(),
        DType::I8 => make::<i8>(bytes, big_endian, shape_zyx, geometry)?.into(),
        DType::U16 => make::<u16>(bytes, big_endian, shape_zyx, geometry)?.into(),
        DType::I16 => make::<i16>(bytes, big_endian, shape_zyx, geometry)?.into(),
        DType::U32 => make::<u32>(bytes, big_endian, shape_zyx, geometry)?.into(),
        DType::I32 => make::<i32>(bytes, big_endian, shape_zyx, geometry)?.into(),
        DType::U64 => make::<u64>(bytes, big_endian, shape_zyx, geometry)?.into(),
        DType::I64 => make::<i64>(bytes, big_endian, shape_zyx, geometry)?.into(),
        DType::F32 => make::<f32>(bytes, big_endian, shape_zyx, geometry)?.into(),
        DType::F64 => make::<f64>(bytes, big_endian, shape_zyx, geometry)?.into(),
    })
}

/// Reads from `r` until `buf` is full or the stream ends; returns the bytes read.
pub(crate) fn read_up_to(r: &mut impl std::io::Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}
