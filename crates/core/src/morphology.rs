//! Binary morphology with the 6-connected cross, as the authors' LUNA16 preparation calls it:
//! `skimage.morphology.binary_dilation` / `binary_erosion` with their default (cross) footprint,
//! i.e. `scipy.ndimage.binary_dilation` with `border_value=0` and `scipy.ndimage.binary_erosion`
//! with `border_value=1` (skimage erodes as if the outside were foreground, so the volume's edge
//! never erodes a mask that touches it), for any number of iterations in O(N) each.
//!
//! k dilations by the cross reach exactly the voxels within city-block (L1) distance k of the
//! mask (a monotone path between two voxels of a box stays in the box), and k erosions keep
//! exactly the voxels whose L1 distance to the nearest background voxel inside the volume
//! exceeds k. Both come from one exact city-block distance transform, computed as separable 1D
//! sweeps.
use crate::error::{Error, Result};
use ndarray::{Array3, ArrayView3};

/// City-block distance (saturated at 255) of every voxel to the nearest voxel where `seed` is
/// true; `border`: whether the voxels outside the volume count as seeds. The L1 ball is the
/// Minkowski sum of three axis segments, so the transform is exact as three 1D min-plus sweeps:
/// along z and y they run over whole planes and rows at once (vectorised), along x per row.
fn city_block(seed: &Array3<bool>, border: bool) -> Array3<u8> {
    let (d, h, w) = seed.dim();
    let mut dist: Vec<u8> = seed.iter().map(|&s| if s { 0 } else { u8::MAX }).collect();
    let edge: u8 = if border { 1 } else { u8::MAX };
    let step = |a: &mut [u8], b: &[u8]| {
        for (x, &y) in a.iter_mut().zip(b) {
            *x = (*x).min(y.saturating_add(1));
        }
    };
    // z, then y: sweeps over planes / rows.
    for (len, count, outer) in [(h * w, d, 1), (w, h, d)] {
        for o in 0..outer {
            let block = &mut dist[o * len * count..(o + 1) * len * count];
            if border {
                for v in &mut block[..len] {
                    *v = (*v).min(edge);
                }
                for v in &mut block[(count - 1) * len..] {
                    *v = (*v).min(edge);
                }
            }
            for k in 1..count {
                let (prev, cur) = block.split_at_mut(k * len);
                step(&mut cur[..len], &prev[(k - 1) * len..]);
            }
            for k in (0..count.saturating_sub(1)).rev() {
                let (cur, next) = block.split_at_mut((k + 1) * len);
                step(&mut cur[k * len..], &next[..len]);
            }
        }
    }
    // x: along each row; `outside` is the distance of the voxel just past either end.
    let outside: u8 = if border { 0 } else { u8::MAX };
    for row in dist.chunks_exact_mut(w) {
        let mut run = outside;
        for v in row.iter_mut() {
            run = (*v).min(run.saturating_add(1));
            *v = run;
        }
        let mut run = outside;
        for v in row.iter_mut().rev() {
            run = (*v).min(run.saturating_add(1));
            *v = run;
        }
    }
    Array3::from_shape_vec((d, h, w), dist).expect("shape")
}

/// The largest number of iterations (distances are kept in bytes).
pub const MAX_ITERATIONS: u32 = 254;

fn check(iterations: u32) -> Result<()> {
    if iterations > MAX_ITERATIONS {
        return Err(Error::InvalidArgument(format!(
            "at most {MAX_ITERATIONS} morphology iterations, not {iterations}"
        )));
    }
    Ok(())
}

/// `iterations` binary dilations by the 6-connected cross (up to [`MAX_ITERATIONS`]).
pub fn dilate(mask: ArrayView3<'_, bool>, iterations: u32) -> Result<Array3<bool>> {
    check(iterations)?;
    if iterations == 0 {
        return Ok(mask.to_owned());
    }
    Ok(city_block(&mask.to_owned(), false).mapv(|v| u32::from(v) <= iterations))
}

/// `iterations` binary erosions by the 6-connected cross; outside the volume counts as
/// foreground (skimage's `binary_erosion`, scipy's `border_value=1`). Up to [`MAX_ITERATIONS`].
pub fn erode(mask: ArrayView3<'_, bool>, iterations: u32) -> Result<Array3<bool>> {
    check(iterations)?;
    if iterations == 0 {
        return Ok(mask.to_owned());
    }
    Ok(city_block(&mask.mapv(|m| !m), false).mapv(|v| u32::from(v) > iterations))
}

/// Binary closing as the authors' LUNA16 preparation does it (`mask2closed_mask`):
/// `iterations` dilations, then as many erosions; the volume's border does not erode.
pub fn close(mask: ArrayView3<'_, bool>, iterations: u32) -> Result<Array3<bool>> {
    erode(dilate(mask, iterations)?.view(), iterations)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// One dilation / erosion step by the cross, literally (outside: background for a
    /// dilation, foreground for an erosion).
    fn step(m: &Array3<bool>, dilation: bool) -> Array3<bool> {
        let (d, h, w) = m.dim();
        let get = |z: i64, y: i64, x: i64| -> bool {
            if z < 0 || y < 0 || x < 0 || z >= d as i64 || y >= h as i64 || x >= w as i64 {
                !dilation
            } else {
                m[[z as usize, y as usize, x as usize]]
            }
        };
        Array3::from_shape_fn((d, h, w), |(z, y, x)| {
            let (z, y, x) = (z as i64, y as i64, x as i64);
            let n = [(0, 0, 0), (1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1)]
                .map(|(a, b, c)| get(z + a, y + b, x + c));
            if dilation {
                n.iter().any(|&v| v)
            } else {
                n.iter().all(|&v| v)
            }
        })
    }

    proptest! {
        #[test]
        fn equals_iterated_single_steps(bits in proptest::collection::vec(0u8..10, 6 * 7 * 8), k in 0u32..5) {
            let m = Array3::from_shape_vec((6, 7, 8), bits.iter().map(|&b| b < 3).collect()).unwrap();
            let (mut d, mut e) = (m.clone(), m.clone());
            for _ in 0..k {
                d = step(&d, true);
                e = step(&e, false);
            }
            prop_assert_eq!(dilate(m.view(), k).unwrap(), d);
            prop_assert_eq!(erode(m.view(), k).unwrap(), e);
        }
    }

    /// Issue 12, point 7: a mask touching the volume's border keeps its border slices.
    #[test]
    fn closing_fills_a_gap_and_keeps_the_border() {
        let mut m = Array3::from_elem((5, 20, 20), false);
        m.slice_mut(ndarray::s![.., 5..15, 5..9]).fill(true);
        m.slice_mut(ndarray::s![.., 5..15, 10..15]).fill(true);
        let c = close(m.view(), 2).unwrap();
        assert!(c[[2, 8, 9]], "the one-voxel gap is closed");
        assert!(c[[0, 8, 9]] && c[[4, 8, 9]], "the first and last slices are not eroded");
        assert_eq!(c.slice(ndarray::s![0, .., ..]), c.slice(ndarray::s![2, .., ..]));
    }

    #[test]
    fn too_many_iterations_are_an_error() {
        let m = Array3::from_elem((2, 2, 2), true);
        let e = dilate(m.view(), 255).unwrap_err().to_string();
        assert!(e.contains("at most 254"), "{e}");
        assert!(erode(m.view(), 1000).is_err());
    }
}
