//! Connected-component labelling of a 3D mask on the GPU, and the same algorithm on the CPU.
//!
//! The algorithm (kernels/ccl.cu; Playne and Hawick 2018's union-find, in tiles):
//!
//! ```text
//! volume [nz, ny, nx], voxel i = (z * ny + y) * nx + x;  p: parent pointers, BG = background
//! 1. init      p[i] = i for a foreground voxel, BG otherwise
//! 2. merge     pass 0: every foreground voxel joins each foreground neighbour that comes
//!              before it in C order (3 of them for 6-connectivity, 9 for 18, 13 for 26) and
//!              lies in the same 8 x 8 x 4 tile (x, y, z); pass 1: the same across tile faces.
//!              join(a, b): roots ra, rb; hang the larger under the smaller with atomicMin,
//!              retry from the new roots when another thread won the race
//! 3. compress  p[i] = root(i)
//! 4. relabel   root r (p[r] == r) gets label = #roots <= r (an inclusive scan over the
//!              is-root flags); voxel i gets label(p[i]); K = #roots
//! ```
//!
//! Pointers only decrease, so the root of a component is its smallest index, its first voxel in
//! C order, and step 4 numbers the components 1..K in the order of their first voxels: the same
//! numbering as `iw_core::label` and `scipy.ndimage.label`, so the outputs are equal voxel for
//! voxel, not just the same partition. Step 4 runs as tch ops on the mask's device (a cumsum and
//! a gather), ordered after the kernels on PyTorch's default stream (see [`crate::driver`]).
//!
//! [`label_emulated`] runs steps 1-4 in Rust with the same tiles and the same join, the voxels
//! of each merge pass in a shuffled order and groups of 256 "threads" whose root reads and
//! atomicMins interleave at random (stale roots included, as on a GPU), so the algorithm is
//! tested against `iw_core::label` on machines without a GPU.
use crate::driver::{driver, Function, Module};
use crate::error::{Error, Result};
use crate::nvrtc::{compile, Target};
use std::collections::HashMap;
use std::ffi::c_void;
use std::sync::Mutex;
use tch::{Device, Kind, Tensor};

/// The kernel source.
pub const SOURCE: &str = include_str!("../kernels/ccl.cu");
/// Tile of one thread block, `[x, y, z]` (TX, TY, TZ in the source).
pub const TILE_XYZ: [usize; 3] = [8, 8, 4];
const BG: u32 = u32::MAX;

/// A labelled mask.
#[derive(Debug)]
pub struct Labelled {
    /// Labels `[D, H, W]`, int32, on the mask's device: 0 background, 1..=K components.
    pub labels: Tensor,
    /// Number of components K.
    pub count: i64,
}

struct Loaded {
    _module: Module,
    init: Function,
    merge: Function,
    compress: Function,
}
// SAFETY: module and function handles are plain driver handles, usable from any thread that
// makes their context current (which `label_cuda` does before every launch).
unsafe impl Send for Loaded {}

static LOADED: Mutex<Option<HashMap<i32, Loaded>>> = Mutex::new(None);

fn check_connectivity(connectivity: u32) -> Result<i32> {
    match connectivity {
        6 | 18 | 26 => Ok(connectivity as i32),
        c => Err(Error::Input(format!("connectivity must be 6, 18 or 26, not {c}"))),
    }
}

/// Compiles (for the card's own architecture, else PTX for compute_80) and loads the kernels
/// into the current context.
fn load(ordinal: i32) -> Result<Loaded> {
    let d = driver()?;
    let cc = d.compute_capability(ordinal)?;
    let image = match compile("ccl.cu", SOURCE, Target::Cubin(cc)) {
        Ok(img) => img,
        Err(Error::Compile { .. }) => compile("ccl.cu", SOURCE, Target::Ptx(80))?,
        Err(e) => return Err(e),
    };
    let module = d.load_module(&image)?;
    Ok(Loaded {
        init: d.function(module, "iw_ccl_init")?,
        merge: d.function(module, "iw_ccl_merge")?,
        compress: d.function(module, "iw_ccl_compress")?,
        _module: module,
    })
}

/// Labels the non-zero voxels of a `[D, H, W]` mask on a CUDA device (any dtype). Errors
/// without CUDA (`Error::NoCuda`), for a CPU tensor, another rank, more than 2^32 - 2 voxels or
/// a connectivity other than 6, 18, 26.
pub fn label_cuda(mask: &Tensor, connectivity: u32) -> Result<Labelled> {
    let conn = check_connectivity(connectivity)?;
    let dims = mask.size();
    let [nz, ny, nx] = dims[..] else {
        return Err(Error::Input(format!("the mask must be [D, H, W], got {dims:?}")));
    };
    let ordinal = match mask.device() {
        Device::Cuda(o) => o as i32,
        other => return Err(Error::Input(format!("the mask is on {other:?}, not CUDA (iw_core::label is the CPU's)"))),
    };
    let n = nz * ny * nx;
    if n >= BG as i64 {
        return Err(Error::Input(format!("{n} voxels: at most 2^32 - 2 fit 32-bit labels")));
    }
    let device = mask.device();
    if n == 0 {
        return Ok(Labelled { labels: Tensor::f_zeros(&dims[..], (Kind::Int, device))?, count: 0 });
    }
    let m = mask.f_ne(0)?.f_to_kind(Kind::Uint8)?.f_contiguous()?;
    let p = Tensor::f_empty([n], (Kind::Int, device))?;
    let d = driver()?;
    d.with_context(ordinal, || {
        let mut guard = LOADED.lock().unwrap_or_else(|e| e.into_inner());
        let map = guard.get_or_insert_with(HashMap::new);
        let k = match map.entry(ordinal) {
            std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => v.insert(load(ordinal)?),
        };
        let (mut mp, mut pp) = (m.data_ptr(), p.data_ptr());
        let mut n32 = n as u32;
        let (mut z, mut y, mut x, mut c) = (nz as i32, ny as i32, nx as i32, conn);
        let flat_grid = [((n as u64).div_ceil(256)).min(65_535) as u32, 1, 1];
        let grid3 = [
            (nx as usize).div_ceil(TILE_XYZ[0]) as u32,
            (ny as usize).div_ceil(TILE_XYZ[1]) as u32,
            (nz as usize).div_ceil(TILE_XYZ[2]) as u32,
        ];
        if grid3[1] > 65_535 || grid3[2] > 65_535 {
            return Err(Error::Input(format!("mask {dims:?} is too large for the launch grid")));
        }
        let block3 = TILE_XYZ.map(|v| v as u32);
        let ptr = |v: &mut dyn std::any::Any| v as *mut dyn std::any::Any as *mut c_void;
        // SAFETY: each parameter list matches its kernel's signature in ccl.cu; `m` (n bytes)
        // and `p` (n int32) are contiguous tensors on this device, alive until the ops below
        // (queued after the kernels on the same stream) have used them.
        unsafe {
            d.launch(k.init, flat_grid, [256, 1, 1], &mut [ptr(&mut mp), ptr(&mut pp), ptr(&mut n32)])?;
            for mut pass in [0i32, 1] {
                let mut params =
                    [ptr(&mut mp), ptr(&mut pp), ptr(&mut z), ptr(&mut y), ptr(&mut x), ptr(&mut c), ptr(&mut pass)];
                d.launch(k.merge, grid3, block3, &mut params)?;
            }
            d.launch(k.compress, flat_grid, [256, 1, 1], &mut [ptr(&mut pp), ptr(&mut n32)])?;
        }
        Ok(())
    })?;
    // 4. relabel: BG is -1 as int32.
    let fg = p.f_ge(0)?;
    let idx = Tensor::f_arange(n, (Kind::Int, device))?;
    let rank = p.f_eq_tensor(&idx)?.f_cumsum(0, Kind::Int)?;
    let count = rank.f_get(n - 1)?.f_int64_value(&[])?;
    let labels = rank
        .f_gather(0, &p.f_clamp_min(0)?.f_to_kind(Kind::Int64)?, false)?
        .f_where_self(&fg, &Tensor::f_zeros([1], (Kind::Int, device))?)?
        .f_reshape(&dims[..])?;
    Ok(Labelled { labels, count })
}

fn find(p: &[u32], mut i: u32) -> u32 {
    while p[i as usize] != i {
        i = p[i as usize];
    }
    i
}

/// Where one GPU thread is in joining its voxel with its k-th neighbour (kernels/ccl.cu's
/// `iw_unite`): each step is either reading the two roots or one atomicMin, and other threads'
/// steps may come between any two of them, as on the GPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Join {
    /// About to read the roots of the voxel and its neighbour.
    Start(u32),
    /// Holds the two roots read (possibly stale by the time of the atomicMin).
    Roots(u32, u32),
    /// This join is finished.
    Done,
}

/// Threads whose steps interleave in the emulation (a few warps' worth).
const CONCURRENT: usize = 256;

fn xorshift(s: &mut u64) -> u64 {
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    s.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

/// The GPU algorithm run on the CPU: `mask` is `[nz, ny, nx]` in C order; returns the labels
/// (0 background, 1..=K) and K. Each merge pass takes the voxels in an order shuffled by
/// `order_seed` (0: C order), as groups of 256 concurrent threads whose steps (root reads,
/// atomicMins) interleave at random, so the lock-free join's retry path is exercised.
pub fn label_emulated(
    mask: &[bool],
    dims_zyx: [usize; 3],
    connectivity: u32,
    order_seed: u64,
) -> Result<(Vec<u32>, u32)> {
    let conn = check_connectivity(connectivity)?;
    let [nz, ny, nx] = dims_zyx;
    let n = nz * ny * nx;
    if mask.len() != n {
        return Err(Error::Input(format!("mask has {} voxels, dims {dims_zyx:?} say {n}", mask.len())));
    }
    if n >= BG as usize {
        return Err(Error::Input(format!("{n} voxels: at most 2^32 - 2 fit 32-bit labels")));
    }
    // 1. init
    let mut p: Vec<u32> = (0..n as u32).map(|i| if mask[i as usize] { i } else { BG }).collect();
    // 2. merge, two passes, in a shuffled voxel order (xorshift64* Fisher-Yates).
    let mut order: Vec<u32> = (0..n as u32).collect();
    if order_seed != 0 {
        let mut s = order_seed;
        for i in (1..n).rev() {
            let j = (xorshift(&mut s) % (i as u64 + 1)) as usize;
            order.swap(i, j);
        }
    }
    let [tx, ty, tz] = TILE_XYZ;
    let mut rng = order_seed ^ 0x9E37_79B9_7F4A_7C15;
    for pass in 0..2 {
        // Threads run concurrently in groups of CONCURRENT; within a group their steps
        // interleave at random (see `Join`).
        for group in order.chunks(CONCURRENT) {
            let mut threads: Vec<(u32, Vec<u32>, usize, Join)> = Vec::with_capacity(group.len());
            for &i in group {
                if !mask[i as usize] {
                    continue;
                }
                let iu = i as usize;
                let (z, y, x) = (iu / (ny * nx), iu / nx % ny, iu % nx);
                let mut pairs = Vec::new();
                for dz in -1i64..=0 {
                    for dy in -1i64..=1 {
                        for dx in -1i64..=1 {
                            if dz == 0 && (dy > 0 || (dy == 0 && dx >= 0)) {
                                continue;
                            }
                            let m = (dz != 0) as i32 + (dy != 0) as i32 + (dx != 0) as i32;
                            if (conn == 6 && m > 1) || (conn == 18 && m > 2) {
                                continue;
                            }
                            let (zz, yy, xx) = (z as i64 + dz, y as i64 + dy, x as i64 + dx);
                            if zz < 0 || yy < 0 || xx < 0 || xx >= nx as i64 || yy >= ny as i64 {
                                continue;
                            }
                            let (zz, yy, xx) = (zz as usize, yy as usize, xx as usize);
                            let same = zz / tz == z / tz && yy / ty == y / ty && xx / tx == x / tx;
                            if same != (pass == 0) {
                                continue;
                            }
                            let j = (zz * ny + yy) * nx + xx;
                            if mask[j] {
                                pairs.push(j as u32);
                            }
                        }
                    }
                }
                if !pairs.is_empty() {
                    threads.push((i, pairs, 0, Join::Start(i)));
                }
            }
            while !threads.is_empty() {
                let t = (xorshift(&mut rng) % threads.len() as u64) as usize;
                let (i, pairs, k, state) = &mut threads[t];
                *state = match *state {
                    Join::Start(i) => Join::Roots(find(&p, i), find(&p, pairs[*k])),
                    Join::Roots(a, b) if a == b => Join::Done,
                    Join::Roots(a, b) => {
                        // atomicMin(&p[max], min): one indivisible step.
                        let (a, b) = (a.max(b), a.min(b));
                        let old = p[a as usize];
                        p[a as usize] = old.min(b);
                        if old == a {
                            Join::Done
                        } else {
                            Join::Roots(find(&p, old), find(&p, b))
                        }
                    }
                    Join::Done => unreachable!("finished joins are removed"),
                };
                if *state == Join::Done {
                    *k += 1;
                    if *k == pairs.len() {
                        threads.swap_remove(t);
                    } else {
                        *state = Join::Start(*i);
                    }
                }
            }
        }
    }
    // 3. compress
    for i in 0..n {
        if p[i] != BG {
            p[i] = find(&p, i as u32);
        }
    }
    // 4. relabel: inclusive scan over the is-root flags, then a gather.
    let mut rank = vec![0u32; n];
    let mut acc = 0u32;
    for i in 0..n {
        acc += (p[i] == i as u32) as u32;
        rank[i] = acc;
    }
    let labels = p.iter().map(|&r| if r == BG { 0 } else { rank[r as usize] }).collect();
    Ok((labels, acc))
}
