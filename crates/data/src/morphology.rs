//! Binary morphology with the 6-connected cross, as `scipy.ndimage.binary_dilation` /
//! `binary_erosion` with their default structure and `border_value=0`, for any number of
//! iterations in O(N) each.
//!
//! k dilations by the cross reach exactly the voxels within city-block (L1) distance k of the
//! mask (a monotone path between two voxels of a box stays in the box), and k erosions keep
//! exactly the voxels whose L1 distance to the nearest background voxel, counting the voxels
//! outside the volume as background (`border_value=0`), exceeds k. Both come from one exact
//! two-pass city-block distance transform (Rosenfeld and Pfaltz).
use ndarray::{Array3, ArrayView3};

const FAR: u32 = u32::MAX / 4;

/// City-block distance of every voxel to the nearest voxel where `seed` is true; `border`:
/// whether the voxels outside the volume count as seeds.
fn city_block(seed: &Array3<bool>, border: bool) -> Array3<u32> {
    let (d, h, w) = seed.dim();
    let mut dist = seed.mapv(|s| if s { 0 } else { FAR });
    let edge = if border { 1 } else { FAR };
    let slice = dist.as_slice_mut().expect("standard layout");
    let (sy, sz) = (w, w * h);
    for z in 0..d {
        for y in 0..h {
            for x in 0..w {
                let i = z * sz + y * sy + x;
                let mut v = slice[i];
                v = v.min(if x > 0 { slice[i - 1] + 1 } else { edge });
                v = v.min(if y > 0 { slice[i - sy] + 1 } else { edge });
                v = v.min(if z > 0 { slice[i - sz] + 1 } else { edge });
                slice[i] = v;
            }
        }
    }
    for z in (0..d).rev() {
        for y in (0..h).rev() {
            for x in (0..w).rev() {
                let i = z * sz + y * sy + x;
                let mut v = slice[i];
                v = v.min(if x + 1 < w { slice[i + 1] + 1 } else { edge });
                v = v.min(if y + 1 < h { slice[i + sy] + 1 } else { edge });
                v = v.min(if z + 1 < d { slice[i + sz] + 1 } else { edge });
                slice[i] = v;
            }
        }
    }
    dist
}

/// `iterations` binary dilations by the 6-connected cross.
pub fn dilate(mask: ArrayView3<'_, bool>, iterations: u32) -> Array3<bool> {
    if iterations == 0 {
        return mask.to_owned();
    }
    city_block(&mask.to_owned(), false).mapv(|v| v <= iterations)
}

/// `iterations` binary erosions by the 6-connected cross; outside the volume is background.
pub fn erode(mask: ArrayView3<'_, bool>, iterations: u32) -> Array3<bool> {
    if iterations == 0 {
        return mask.to_owned();
    }
    city_block(&mask.mapv(|m| !m), true).mapv(|v| v > iterations)
}

/// Binary closing as the LUNA16 preparation does it: `iterations` dilations, then as many
/// erosions (so, as scipy's, it erodes from the volume's border).
pub fn close(mask: ArrayView3<'_, bool>, iterations: u32) -> Array3<bool> {
    erode(dilate(mask, iterations).view(), iterations)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// One dilation / erosion step by the cross, literally.
    fn step(m: &Array3<bool>, dilation: bool) -> Array3<bool> {
        let (d, h, w) = m.dim();
        let get = |z: i64, y: i64, x: i64| -> bool {
            if z < 0 || y < 0 || x < 0 || z >= d as i64 || y >= h as i64 || x >= w as i64 {
                false
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
            prop_assert_eq!(dilate(m.view(), k), d);
            prop_assert_eq!(erode(m.view(), k), e);
        }
    }

    #[test]
    fn closing_fills_a_gap_and_erodes_from_the_border() {
        let mut m = Array3::from_elem((5, 20, 20), false);
        m.slice_mut(ndarray::s![.., 5..15, 5..9]).fill(true);
        m.slice_mut(ndarray::s![.., 5..15, 10..15]).fill(true);
        let c = close(m.view(), 2);
        assert!(c[[2, 8, 9]], "the one-voxel gap is closed");
        // Border voxels along z erode away (outside the volume is background).
        assert!(!c[[0, 8, 9]]);
    }
}
