//! Masks for the labelling tests: random at several densities and the adversarial shapes
//! (one-voxel specks, spirals, checkerboards, a comb, a solid block, tile-border lines).
#![allow(dead_code)]
use ndarray::Array3;

/// xorshift64*: reproducible masks without a dependency.
pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

pub fn random(dims: [usize; 3], density: f64, seed: u64) -> Array3<u8> {
    let mut r = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    Array3::from_shape_fn((dims[0], dims[1], dims[2]), |_| (r.unit() < density) as u8)
}

/// Isolated voxels on a stride-2 lattice: every voxel its own component for 6/18/26.
pub fn specks(dims: [usize; 3]) -> Array3<u8> {
    Array3::from_shape_fn((dims[0], dims[1], dims[2]), |(z, y, x)| (z % 2 == 0 && y % 2 == 0 && x % 2 == 0) as u8)
}

/// 3D checkerboard: all one component for 18/26 (edge contacts), all singletons for 6.
pub fn checkerboard(dims: [usize; 3]) -> Array3<u8> {
    Array3::from_shape_fn((dims[0], dims[1], dims[2]), |(z, y, x)| ((z + y + x) % 2) as u8)
}

/// A square spiral (arms one voxel apart) in every other slice, the slices joined through the
/// spiral's start and end alternately: one long snake whose first and last voxels are far
/// apart in index (the worst case for pointer chains), one component for 6, 18 and 26.
pub fn spiral(dims: [usize; 3]) -> Array3<u8> {
    let (nz, ny, nx) = (dims[0], dims[1], dims[2]);
    let mut plane = ndarray::Array2::<u8>::zeros((ny, nx));
    let (mut c, mut d) = ((0i64, 0i64), 0usize);
    let dirs = [(0i64, 1i64), (1, 0), (0, -1), (-1, 0)];
    let inside = |p: (i64, i64)| p.0 >= 0 && p.1 >= 0 && p.0 < ny as i64 && p.1 < nx as i64;
    plane[[0, 0]] = 1;
    let free = |plane: &ndarray::Array2<u8>, p: (i64, i64)| !inside(p) || plane[[p.0 as usize, p.1 as usize]] == 0;
    'walk: loop {
        for turn in 0..2 {
            let dd = dirs[(d + turn) % 4];
            let next = (c.0 + dd.0, c.1 + dd.1);
            let after = (next.0 + dd.0, next.1 + dd.1);
            if inside(next) && free(&plane, next) && free(&plane, after) {
                d = (d + turn) % 4;
                c = next;
                plane[[c.0 as usize, c.1 as usize]] = 1;
                continue 'walk;
            }
        }
        break;
    }
    let end = (c.0 as usize, c.1 as usize);
    let mut m = Array3::<u8>::zeros((nz, ny, nx));
    for z in (0..nz).step_by(2) {
        m.index_axis_mut(ndarray::Axis(0), z).assign(&plane);
        if z + 2 < nz {
            let (y, x) = if (z / 2) % 2 == 0 { end } else { (0, 0) };
            m[[z + 1, y, x]] = 1;
        }
    }
    m
}

/// Teeth along x joined by one bar at the far end: components merge late in index order.
pub fn comb(dims: [usize; 3]) -> Array3<u8> {
    let (nz, ny, nx) = (dims[0], dims[1], dims[2]);
    Array3::from_shape_fn((nz, ny, nx), |(z, y, x)| ((x % 3 == 0) || (y == ny - 1 && z == nz - 1)) as u8)
}

/// Lines on the 8 x 8 x 4 tile borders and diagonals through tile corners.
pub fn tile_borders(dims: [usize; 3]) -> Array3<u8> {
    Array3::from_shape_fn((dims[0], dims[1], dims[2]), |(z, y, x)| {
        (x % 8 == 7 || y % 8 == 0 || z % 4 == 3 && x == y || (x + y + z) % 9 == 0) as u8
    })
}

/// All the named masks at one size.
pub fn adversarial(dims: [usize; 3]) -> Vec<(&'static str, Array3<u8>)> {
    vec![
        ("empty", Array3::zeros((dims[0], dims[1], dims[2]))),
        ("full", Array3::from_elem((dims[0], dims[1], dims[2]), 1)),
        ("specks", specks(dims)),
        ("checkerboard", checkerboard(dims)),
        ("spiral", spiral(dims)),
        ("comb", comb(dims)),
        ("tile_borders", tile_borders(dims)),
    ]
}
