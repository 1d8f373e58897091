//! Fallible allocation of the large buffers: a volume's worth of voxels that the system will not
//! give is an [`Error::OutOfMemory`] naming the buffer and its size in bytes, not an abort of the
//! whole process (what Rust does when an infallible allocation fails). A library caller, the
//! Python package above all, then keeps running and reports it.
//!
//! Sizes are computed in `u128`, so a shape whose byte count does not even fit `usize` is
//! reported with its true size too. Nothing here rejects a size that the allocator grants: the
//! only limit is the allocator's answer.
use crate::error::{Error, Result};
use ndarray::{Array3, ArrayView3, CowArray, Ix3};
use std::collections::HashMap;
use std::hash::Hash;

/// The [`Error::OutOfMemory`] of `count` elements of `T`.
pub fn out_of_memory<T>(what: &str, count: u128) -> Error {
    Error::OutOfMemory { what: what.to_string(), bytes: count.saturating_mul(size_of::<T>() as u128) }
}

/// The number of voxels of a shape, or [`Error::OutOfMemory`] (`bytes_per_voxel` per voxel)
/// when the product does not fit `usize`.
pub fn voxel_count(shape: &[usize], bytes_per_voxel: usize, what: &str) -> Result<usize> {
    shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d)).ok_or_else(|| {
        let n = shape.iter().fold(1u128, |n, &d| n.saturating_mul(d as u128));
        Error::OutOfMemory { what: what.to_string(), bytes: n.saturating_mul(bytes_per_voxel as u128) }
    })
}

/// Fails with [`Error::OutOfMemory`] when `count` elements of `T` cannot be allocated at once
/// (the allocation is made and released: it touches no page). Lets a function refuse a
/// volume before spending a pass over its voxels, where its first large allocation comes later.
pub fn ensure_allocatable<T>(count: usize, what: &str) -> Result<()> {
    try_with_capacity::<T>(count, what).map(drop)
}

/// An empty vector with room for `count` elements.
pub fn try_with_capacity<T>(count: usize, what: &str) -> Result<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(count).map_err(|_| out_of_memory::<T>(what, count as u128))?;
    Ok(v)
}

/// `count` zeros (the allocator's zeroed pages: untouched pages cost no memory until written).
pub fn try_zeroed<T: bytemuck::Zeroable>(count: usize, what: &str) -> Result<Vec<T>> {
    bytemuck::allocation::try_zeroed_vec(count).map_err(|()| out_of_memory::<T>(what, count as u128))
}

/// `count` copies of `value`.
pub fn try_filled<T: Clone>(count: usize, value: T, what: &str) -> Result<Vec<T>> {
    let mut v = try_with_capacity(count, what)?;
    v.resize(count, value);
    Ok(v)
}

/// `v.push(x)`, growing the vector (amortised, as `push` does) without aborting.
#[inline]
pub fn try_push<T>(v: &mut Vec<T>, x: T, what: &str) -> Result<()> {
    if v.len() == v.capacity() {
        v.try_reserve(1).map_err(|_| out_of_memory::<T>(what, v.len() as u128 * 2))?;
    }
    v.push(x);
    Ok(())
}

/// `map.insert(k, v)`, growing the table without aborting.
pub fn try_insert<K: Eq + Hash, V>(map: &mut HashMap<K, V>, k: K, v: V, what: &str) -> Result<()> {
    map.try_reserve(1).map_err(|_| out_of_memory::<(K, V)>(what, map.len() as u128 * 2))?;
    map.insert(k, v);
    Ok(())
}

/// The items of an iterator of known length, collected into one allocation.
pub fn try_collect<T>(items: impl ExactSizeIterator<Item = T>, what: &str) -> Result<Vec<T>> {
    let mut v = try_with_capacity(items.len(), what)?;
    v.extend(items);
    Ok(v)
}

/// `view.mapv(f)` (a C-order result), allocated before the first voxel is read.
pub fn try_map3<A: Copy, B>(view: ArrayView3<'_, A>, f: impl FnMut(A) -> B, what: &str) -> Result<Array3<B>> {
    let v = match view.as_slice() {
        // A slice's iterator vectorises; ndarray's element iterator does not.
        Some(s) => try_collect(s.iter().copied().map(f), what)?,
        None => try_collect(view.iter().copied().map(f), what)?,
    };
    Ok(Array3::from_shape_vec(view.raw_dim(), v).expect("one value per voxel"))
}

/// The view itself when it is in standard (C) layout, else a C-order copy.
pub fn try_standard_layout<'a, T: Copy>(view: ArrayView3<'a, T>, what: &str) -> Result<CowArray<'a, T, Ix3>> {
    if view.is_standard_layout() {
        return Ok(CowArray::from(view));
    }
    Ok(CowArray::from(try_map3(view, |x| x, what)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_name_the_buffer_and_its_bytes() {
        // 2^60 u32 values: 2^62 bytes, more than any address space gives.
        let e = try_zeroed::<u32>(1 << 60, "the labels").unwrap_err();
        assert!(matches!(e, Error::OutOfMemory { bytes, .. } if bytes == 1 << 62), "{e}");
        assert!(e.to_string().contains("the labels"), "{e}");
        assert!(try_with_capacity::<f64>(1 << 61, "x").is_err());
        assert!(ensure_allocatable::<u8>(usize::MAX, "x").is_err());
        // A shape whose voxel count overflows usize still reports its true size.
        let big = 1usize << 40;
        match voxel_count(&[big, big, 4], 4, "v").unwrap_err() {
            Error::OutOfMemory { bytes, .. } => assert_eq!(bytes, (1u128 << 80) * 16),
            e => panic!("{e}"),
        }
        assert_eq!(voxel_count(&[3, 0, 5], 4, "v").unwrap(), 0);
        assert_eq!(voxel_count(&[], 4, "v").unwrap(), 1);
    }

    #[test]
    fn granted_sizes_work() {
        assert_eq!(try_zeroed::<u32>(5, "z").unwrap(), vec![0; 5]);
        assert_eq!(try_zeroed::<f32>(0, "z").unwrap(), Vec::<f32>::new());
        assert_eq!(try_filled(3, 7u8, "f").unwrap(), vec![7; 3]);
        let mut v = Vec::new();
        for i in 0..1000 {
            try_push(&mut v, i, "p").unwrap();
        }
        assert_eq!(v, (0..1000).collect::<Vec<_>>());
        let a = ndarray::Array3::from_shape_fn((2, 3, 4), |(z, y, x)| (z * 12 + y * 4 + x) as u8);
        let t = a.view().reversed_axes();
        let m = try_map3(t, |x| x as u32 * 2, "m").unwrap();
        assert_eq!(m, t.mapv(|x| x as u32 * 2));
        let s = try_standard_layout(t, "s").unwrap();
        assert!(s.is_standard_layout() && s == t);
        assert!(try_standard_layout(a.view(), "s").unwrap().is_view());
    }
}
