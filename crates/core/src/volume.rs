//! The one volume type of iw: voxels, spacing, origin and direction.
//!
//! # Axis order and world frame (read this once)
//!
//! * Voxel arrays are C-order `[z, y, x]` (`x` fastest): the on-disk order of NIfTI and
//!   MetaImage, so reading needs no transpose, and libtorch's `D, H, W`. Indices into an
//!   [`ndarray::Array3`] are therefore `[k, j, i]` for the voxel `(i, j, k) = (x, y, z)`.
//! * Geometry is kept the way ITK, SimpleITK and DICOM keep it, in **x, y, z order** and in the
//!   **LPS** world frame (x grows to the patient's Left, y to Posterior, z to Superior), in mm:
//!   `world = origin + direction * diag(spacing) * (i, j, k)`. Every name says its order
//!   (`spacing_xyz_mm`, `origin_xyz_mm`, `shape_zyx`).
//! * NIfTI's world frame is RAS: its reader and writer flip the signs of the first two world
//!   axes, exactly as ITK does, so a NIfTI and a MetaImage of the same scan agree in LPS.
use crate::error::{Error, Result};
use ndarray::Array3;
use std::fmt;

/// Data types iw reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DType {
    /// unsigned 8-bit
    U8,
    /// signed 8-bit
    I8,
    /// unsigned 16-bit
    U16,
    /// signed 16-bit
    I16,
    /// unsigned 32-bit
    U32,
    /// signed 32-bit
    I32,
    /// unsigned 64-bit
    U64,
    /// signed 64-bit
    I64,
    /// 32-bit float
    F32,
    /// 64-bit float
    F64,
}

impl DType {
    /// Bytes per voxel.
    pub fn size(self) -> usize {
        match self {
            DType::U8 | DType::I8 => 1,
            DType::U16 | DType::I16 => 2,
            DType::U32 | DType::I32 | DType::F32 => 4,
            DType::U64 | DType::I64 | DType::F64 => 8,
        }
    }
    /// numpy's name of the type (`uint8`, `int16`, `float32`, ...).
    pub fn name(self) -> &'static str {
        match self {
            DType::U8 => "uint8",
            DType::I8 => "int8",
            DType::U16 => "uint16",
            DType::I16 => "int16",
            DType::U32 => "uint32",
            DType::I32 => "int32",
            DType::U64 => "uint64",
            DType::I64 => "int64",
            DType::F32 => "float32",
            DType::F64 => "float64",
        }
    }
    /// Whether the type is a floating-point type.
    pub fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F64)
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A voxel type: one of the [`DType`]s.
pub trait Element:
    Copy + Default + PartialEq + PartialOrd + bytemuck::Pod + Send + Sync + fmt::Debug + 'static
{
    /// The matching [`DType`].
    const DTYPE: DType;
    /// Lossy conversion to f64 (exact for every type but 64-bit integers beyond 2^53).
    fn to_f64(self) -> f64;
    /// Conversion from f64, saturating and truncating toward zero for integers (`as` semantics).
    fn from_f64(v: f64) -> Self;
}

macro_rules! element {
    ($t:ty, $d:ident) => {
        impl Element for $t {
            const DTYPE: DType = DType::$d;
            #[inline]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline]
            fn from_f64(v: f64) -> Self {
                v as $t
            }
        }
    };
}
element!(u8, U8);
element!(i8, I8);
element!(u16, U16);
element!(i16, I16);
element!(u32, U32);
element!(i32, I32);
element!(u64, U64);
element!(i64, I64);
element!(f32, F32);
element!(f64, F64);

/// Where the voxel grid sits in the world (LPS, mm), in x, y, z order. See the module docs.
#[derive(Debug, Clone, PartialEq)]
pub struct Geometry {
    /// Voxel size along the x, y and z voxel axes, mm; all > 0.
    pub spacing_xyz_mm: [f64; 3],
    /// World (LPS, mm) position of the centre of voxel (0, 0, 0).
    pub origin_xyz_mm: [f64; 3],
    /// Row-major 3x3 matrix whose column `a` is the unit world (LPS) direction of voxel axis `a`
    /// (a = 0 for x, 1 for y, 2 for z). Identity for an axial scan in LPS order.
    pub direction: [[f64; 3]; 3],
}

impl Default for Geometry {
    fn default() -> Self {
        Geometry {
            spacing_xyz_mm: [1.0; 3],
            origin_xyz_mm: [0.0; 3],
            direction: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
        }
    }
}

impl Geometry {
    /// The 4x4 LPS affine mapping a continuous voxel index `(i, j, k, 1)` (x, y, z order) to
    /// world mm.
    pub fn affine_lps(&self) -> [[f64; 4]; 4] {
        let mut a = [[0.0; 4]; 4];
        for (r, row) in a.iter_mut().take(3).enumerate() {
            for c in 0..3 {
                row[c] = self.direction[r][c] * self.spacing_xyz_mm[c];
            }
            row[3] = self.origin_xyz_mm[r];
        }
        a[3][3] = 1.0;
        a
    }

    /// The same affine in NIfTI's RAS frame (what nibabel's `img.affine` shows).
    pub fn affine_ras(&self) -> [[f64; 4]; 4] {
        let mut a = self.affine_lps();
        for row in a.iter_mut().take(2) {
            for v in row.iter_mut() {
                *v = -*v;
            }
        }
        a
    }

    /// Geometry from a 4x4 LPS affine: spacing = column norms, direction = normalised columns.
    /// Fails when a column is zero or not finite.
    pub fn from_affine_lps(a: &[[f64; 4]; 4]) -> std::result::Result<Self, String> {
        let mut g = Geometry::default();
        for c in 0..3 {
            let norm = (0..3).map(|r| a[r][c] * a[r][c]).sum::<f64>().sqrt();
            if !(norm.is_finite() && norm > 0.0) {
                return Err(format!("affine column {c} has length {norm}: not a valid voxel axis"));
            }
            g.spacing_xyz_mm[c] = norm;
            for r in 0..3 {
                g.direction[r][c] = a[r][c] / norm;
            }
        }
        for r in 0..3 {
            g.origin_xyz_mm[r] = a[r][3];
        }
        Ok(g)
    }

    /// World (LPS, mm) position of a continuous voxel index given in x, y, z order.
    pub fn index_xyz_to_world(&self, index_xyz: [f64; 3]) -> [f64; 3] {
        let a = self.affine_lps();
        let mut w = [0.0; 3];
        for (r, wr) in w.iter_mut().enumerate() {
            *wr = a[r][3] + (0..3).map(|c| a[r][c] * index_xyz[c]).sum::<f64>();
        }
        w
    }

    /// Continuous voxel index (x, y, z order) of a world (LPS, mm) point.
    pub fn world_to_index_xyz(&self, world_xyz_mm: [f64; 3]) -> [f64; 3] {
        let a = self.affine_lps();
        let m = [[a[0][0], a[0][1], a[0][2]], [a[1][0], a[1][1], a[1][2]], [a[2][0], a[2][1], a[2][2]]];
        let inv = invert3(&m).expect("a Geometry's affine is invertible: spacing > 0, independent axes");
        let d = [world_xyz_mm[0] - a[0][3], world_xyz_mm[1] - a[1][3], world_xyz_mm[2] - a[2][3]];
        let mut out = [0.0; 3];
        for (r, o) in out.iter_mut().enumerate() {
            *o = (0..3).map(|c| inv[r][c] * d[c]).sum();
        }
        out
    }

    /// The geometry of the sub-grid starting at voxel `start_zyx` (a crop keeps spacing and
    /// direction; the origin moves to the first kept voxel).
    pub fn cropped(&self, start_zyx: [usize; 3]) -> Geometry {
        let idx = [start_zyx[2] as f64, start_zyx[1] as f64, start_zyx[0] as f64];
        Geometry { origin_xyz_mm: self.index_xyz_to_world(idx), ..self.clone() }
    }

    /// Checks the invariants: finite positive spacing, finite origin, invertible direction.
    pub fn validate(&self) -> std::result::Result<(), String> {
        if self.spacing_xyz_mm.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
            return Err(format!("spacing {:?} (x, y, z) must be finite and > 0", self.spacing_xyz_mm));
        }
        if self.origin_xyz_mm.iter().any(|o| !o.is_finite()) {
            return Err(format!("origin {:?} (x, y, z) must be finite", self.origin_xyz_mm));
        }
        if invert3(&self.direction).is_none() {
            return Err(format!("direction {:?} is singular", self.direction));
        }
        Ok(())
    }
}

/// Inverse of a 3x3 matrix, `None` when (nearly) singular.
pub fn invert3(m: &[[f64; 3]; 3]) -> Option<[[f64; 3]; 3]> {
    let det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
        + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
    if !det.is_finite() || det.abs() < 1e-12 {
        return None;
    }
    let d = 1.0 / det;
    Some([
        [
            (m[1][1] * m[2][2] - m[1][2] * m[2][1]) * d,
            (m[0][2] * m[2][1] - m[0][1] * m[2][2]) * d,
            (m[0][1] * m[1][2] - m[0][2] * m[1][1]) * d,
        ],
        [
            (m[1][2] * m[2][0] - m[1][0] * m[2][2]) * d,
            (m[0][0] * m[2][2] - m[0][2] * m[2][0]) * d,
            (m[0][2] * m[1][0] - m[0][0] * m[1][2]) * d,
        ],
        [
            (m[1][0] * m[2][1] - m[1][1] * m[2][0]) * d,
            (m[0][1] * m[2][0] - m[0][0] * m[2][1]) * d,
            (m[0][0] * m[1][1] - m[0][1] * m[1][0]) * d,
        ],
    ])
}

/// The header of the file a volume was read from, as stored there (opaque bytes here; `iw-io`
/// reads and writes them), kept so that writing the volume back to the same format preserves
/// what the geometry does not say: NIfTI's qform and sform (codes, quaternion, srows) exactly,
/// when the geometry did not change.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileHeader {
    /// The 348 bytes of a NIfTI-1 header, in the file's byte order.
    Nifti1(std::sync::Arc<[u8]>),
}

/// A 3D volume: voxels in C-order `[z, y, x]` plus their [`Geometry`], and the header of the
/// file it was read from ([`FileHeader`]), if any.
#[derive(Debug, Clone)]
pub struct Volume<T> {
    /// Voxels, `[z, y, x]`.
    pub data: Array3<T>,
    /// Spacing, origin and direction.
    pub geometry: Geometry,
    /// The header this volume was read with, if any.
    pub header: Option<FileHeader>,
}

impl<T: Element> Volume<T> {
    /// A volume with no file header to preserve.
    pub fn new(data: Array3<T>, geometry: Geometry) -> Self {
        Volume { data, geometry, header: None }
    }

    /// Shape `[z, y, x]`.
    pub fn shape_zyx(&self) -> [usize; 3] {
        let s = self.data.shape();
        [s[0], s[1], s[2]]
    }

    /// Same geometry (and header), other voxels (e.g. a label map of this image); an error when
    /// `data` has another shape.
    pub fn try_with_data<U: Element>(&self, data: Array3<U>) -> Result<Volume<U>> {
        if data.shape() != self.data.shape() {
            return Err(Error::InvalidArgument(format!(
                "voxels of shape {:?} for a volume of shape {:?}",
                data.shape(),
                self.data.shape()
            )));
        }
        Ok(Volume { data, geometry: self.geometry.clone(), header: self.header.clone() })
    }

    /// [`Volume::try_with_data`] for voxels computed from this volume's own (same shape).
    pub fn with_data<U: Element>(&self, data: Array3<U>) -> Volume<U> {
        self.try_with_data(data).expect("with_data: voxels computed from the volume keep its shape")
    }

    /// Converts every voxel with `as` semantics.
    pub fn cast<U: Element>(&self) -> Volume<U> {
        self.with_data(self.data.mapv(|v| U::from_f64(v.to_f64())))
    }
}

/// A volume of any [`DType`], as a reader returns it.
#[derive(Debug, Clone)]
#[allow(missing_docs)]
pub enum DynVolume {
    U8(Volume<u8>),
    I8(Volume<i8>),
    U16(Volume<u16>),
    I16(Volume<i16>),
    U32(Volume<u32>),
    I32(Volume<i32>),
    U64(Volume<u64>),
    I64(Volume<i64>),
    F32(Volume<f32>),
    F64(Volume<f64>),
}

/// Calls `$body` with `$v` bound to the typed volume inside a [`DynVolume`].
#[macro_export]
macro_rules! dispatch {
    ($dv:expr, $v:ident => $body:expr) => {
        match $dv {
            $crate::DynVolume::U8($v) => $body,
            $crate::DynVolume::I8($v) => $body,
            $crate::DynVolume::U16($v) => $body,
            $crate::DynVolume::I16($v) => $body,
            $crate::DynVolume::U32($v) => $body,
            $crate::DynVolume::I32($v) => $body,
            $crate::DynVolume::U64($v) => $body,
            $crate::DynVolume::I64($v) => $body,
            $crate::DynVolume::F32($v) => $body,
            $crate::DynVolume::F64($v) => $body,
        }
    };
}

/// Summary statistics of a volume's voxel values, accumulated in f64.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ValueStats {
    /// Smallest finite value (NaN when there is none).
    pub min: f64,
    /// Largest finite value (NaN when there is none).
    pub max: f64,
    /// Sum of the finite values.
    pub sum: f64,
    /// Number of NaN voxels.
    pub nan_count: usize,
}

impl DynVolume {
    /// The stored data type.
    pub fn dtype(&self) -> DType {
        dispatch!(self, v => v_dtype(v))
    }
    /// Shape `[z, y, x]`.
    pub fn shape_zyx(&self) -> [usize; 3] {
        dispatch!(self, v => v.shape_zyx())
    }
    /// The geometry.
    pub fn geometry(&self) -> &Geometry {
        dispatch!(self, v => &v.geometry)
    }
    /// Mutable geometry.
    pub fn geometry_mut(&mut self) -> &mut Geometry {
        dispatch!(self, v => &mut v.geometry)
    }
    /// The header of the file the volume was read from, if any.
    pub fn header(&self) -> Option<&FileHeader> {
        dispatch!(self, v => v.header.as_ref())
    }
    /// Values as f32 (`as` semantics).
    pub fn to_f32(&self) -> Volume<f32> {
        match self {
            DynVolume::F32(v) => v.clone(),
            _ => dispatch!(self, v => v.cast()),
        }
    }
    /// Values as f64.
    pub fn to_f64(&self) -> Volume<f64> {
        match self {
            DynVolume::F64(v) => v.clone(),
            _ => dispatch!(self, v => v.cast()),
        }
    }
    /// min, max, sum and NaN count, in f64.
    pub fn value_stats(&self) -> ValueStats {
        dispatch!(self, v => value_stats(v.data.iter().map(|x| x.to_f64())))
    }
    /// A boolean mask of the non-zero voxels (u8: 1 where != 0; NaN counts as non-zero).
    pub fn nonzero_mask(&self) -> Volume<u8> {
        dispatch!(self, v => v.with_data(v.data.mapv(|x| u8::from(x != zero_of(&x)))))
    }
    /// Whether every value is an integer (so the volume may be a label map or a mask).
    pub fn is_integral(&self) -> bool {
        dispatch!(self, v => v.data.iter().all(|x| x.to_f64().fract() == 0.0))
    }
}

fn zero_of<T: Element>(_: &T) -> T {
    T::default()
}

fn v_dtype<T: Element>(_: &Volume<T>) -> DType {
    T::DTYPE
}

fn value_stats(values: impl Iterator<Item = f64>) -> ValueStats {
    let mut s = ValueStats { min: f64::INFINITY, max: f64::NEG_INFINITY, sum: 0.0, nan_count: 0 };
    for x in values {
        if x.is_nan() {
            s.nan_count += 1;
        } else if x.is_finite() {
            s.min = s.min.min(x);
            s.max = s.max.max(x);
            s.sum += x;
        }
    }
    if s.min > s.max {
        s.min = f64::NAN;
        s.max = f64::NAN;
    }
    s
}

macro_rules! from_volume {
    ($t:ty, $d:ident) => {
        impl From<Volume<$t>> for DynVolume {
            fn from(v: Volume<$t>) -> Self {
                DynVolume::$d(v)
            }
        }
    };
}
from_volume!(u8, U8);
from_volume!(i8, I8);
from_volume!(u16, U16);
from_volume!(i16, I16);
from_volume!(u32, U32);
from_volume!(i32, I32);
from_volume!(u64, U64);
from_volume!(i64, I64);
from_volume!(f32, F32);
from_volume!(f64, F64);

/// Builds a C-order array from a flat vector, checking the length.
pub fn array_from_vec<T>(shape_zyx: [usize; 3], v: Vec<T>) -> Result<Array3<T>> {
    Array3::from_shape_vec(shape_zyx, v)
        .map_err(|e| Error::InvalidArgument(format!("voxel count does not match shape {shape_zyx:?}: {e}")))
}
