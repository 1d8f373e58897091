//! Small image filters: a separable Gaussian blur (partial-volume effect of a scanner's point
//! spread function, for the synthetic phantoms).
use ndarray::{Array3, Axis};

/// Gaussian kernel of standard deviation `sigma` (voxels), truncated at 3 sigma, normalised.
fn kernel(sigma: f64) -> Vec<f64> {
    let r = (3.0 * sigma).ceil().max(1.0) as i64;
    let k: Vec<f64> = (-r..=r).map(|i| (-(i * i) as f64 / (2.0 * sigma * sigma)).exp()).collect();
    let s: f64 = k.iter().sum();
    k.into_iter().map(|v| v / s).collect()
}

/// Blurs `a` in place with a Gaussian of `sigma_zyx` voxels per axis (0: that axis untouched);
/// borders replicate the edge voxel.
pub fn gaussian_blur(a: &mut Array3<f32>, sigma_zyx: [f64; 3]) {
    for axis in 0..3 {
        if sigma_zyx[axis] <= 0.0 {
            continue;
        }
        let k = kernel(sigma_zyx[axis]);
        let r = (k.len() / 2) as i64;
        let n = a.len_of(Axis(axis));
        let mut line = vec![0f32; n];
        for mut lane in a.lanes_mut(Axis(axis)) {
            for (i, v) in lane.iter().enumerate() {
                line[i] = *v;
            }
            for i in 0..n {
                let mut acc = 0.0f64;
                for (j, w) in k.iter().enumerate() {
                    let idx = (i as i64 + j as i64 - r).clamp(0, n as i64 - 1) as usize;
                    acc += *w * line[idx] as f64;
                }
                lane[i] = acc as f32;
            }
        }
    }
}
