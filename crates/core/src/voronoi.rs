//! Voronoi regions of labelled components: every voxel gets the label of its nearest non-zero
//! voxel (Euclidean distance in mm, anisotropic spacing allowed). Used by the CC loss (Jaus et
//! al.), which scores each lesion inside its own region.
//!
//! Exact, O(N): Felzenszwalb & Huttenlocher's separable distance transform, one 1-D lower
//! envelope of parabolas per line and axis (x, then y, then z), carrying the label of the
//! parabola that wins. Squared Euclidean distance is a sum over axes, so the nearest site found
//! axis by axis is the nearest in 3D. Ties between equidistant components go to either.
use ndarray::{Array3, ArrayView3, Axis};

/// One 1-D pass: `d[q] = min_p w2 (q - p)^2 + f[p]` over the sites p (finite f), and the label
/// of the minimising p.
fn envelope(f: &[f64], lab: &[u32], w2: f64, d: &mut [f64], l: &mut [u32], v: &mut Vec<usize>, z: &mut Vec<f64>) {
    let n = f.len();
    v.clear();
    z.clear();
    let inter = |q: usize, p: usize| {
        ((f[q] + w2 * (q * q) as f64) - (f[p] + w2 * (p * p) as f64)) / (2.0 * w2 * (q as f64 - p as f64))
    };
    for q in 0..n {
        if !f[q].is_finite() {
            continue;
        }
        if v.is_empty() {
            v.push(q);
            z.push(f64::NEG_INFINITY);
            continue;
        }
        let mut s = inter(q, v[v.len() - 1]);
        while s <= z[z.len() - 1] {
            v.pop();
            z.pop();
            if v.is_empty() {
                break;
            }
            s = inter(q, v[v.len() - 1]);
        }
        if v.is_empty() {
            v.push(q);
            z.push(f64::NEG_INFINITY);
        } else {
            v.push(q);
            z.push(s);
        }
    }
    if v.is_empty() {
        d.fill(f64::INFINITY);
        l.fill(0);
        return;
    }
    let mut k = 0;
    for q in 0..n {
        while k + 1 < v.len() && z[k + 1] < q as f64 {
            k += 1;
        }
        let p = v[k];
        let dq = q as f64 - p as f64;
        d[q] = w2 * dq * dq + f[p];
        l[q] = lab[p];
    }
}

/// The label of the nearest component for every voxel (`[z, y, x]`), distances measured with
/// `spacing_zyx` (mm or voxels). All zeros when there is no component.
pub fn voronoi_regions(labels: ArrayView3<'_, u32>, spacing_zyx: [f64; 3]) -> Array3<u32> {
    let mut dist = labels.mapv(|l| if l != 0 { 0.0 } else { f64::INFINITY });
    let mut lab = labels.to_owned();
    let (mut v, mut z) = (Vec::new(), Vec::new());
    for axis in [2usize, 1, 0] {
        let w2 = spacing_zyx[axis] * spacing_zyx[axis];
        let n = labels.len_of(Axis(axis));
        let (mut f, mut fl, mut d, mut l) = (vec![0.0; n], vec![0u32; n], vec![0.0; n], vec![0u32; n]);
        for (mut dline, mut lline) in dist.lanes_mut(Axis(axis)).into_iter().zip(lab.lanes_mut(Axis(axis))) {
            for i in 0..n {
                f[i] = dline[i];
                fl[i] = lline[i];
            }
            envelope(&f, &fl, w2, &mut d, &mut l, &mut v, &mut z);
            for i in 0..n {
                dline[i] = d[i];
                lline[i] = l[i];
            }
        }
    }
    lab
}
