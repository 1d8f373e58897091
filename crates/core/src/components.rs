//! 3D connected-component labelling (6, 18 or 26 connectivity), run-based union-find.
//!
//! The algorithm, in words (cc3d's two-pass scheme, on runs instead of voxels):
//!
//! 1. Scan the volume row by row (a row is a fixed `(z, y)`, `x` varies fastest) and record
//!    every run of foreground voxels `[x0, x1)`. Empty rows cost one pass over their bytes.
//! 2. Each run is a union-find node. A run is joined with the runs it touches in the rows
//!    already seen: for 26-connectivity the rows `(z, y-1)`, `(z-1, y-1)`, `(z-1, y)` and
//!    `(z-1, y+1)`, where "touches" means the x-intervals overlap after widening by one voxel
//!    (diagonal contact). For 18 the rows `(z-1, y±1)` need a true x-overlap (no diagonal in
//!    all three axes); for 6 only `(z, y-1)` and `(z-1, y)` with a true overlap. Two sorted run
//!    lists are merged in one sweep.
//!
//! ```text
//!   row z-1:  (y-1) (y) (y+1)      row z:  (y-1)
//!                                          (y)    <- current run
//! ```
//! 3. Runs are visited again in raster order; the first run of each root gets the next label,
//!    so labels are `1..=K` in the order of each component's first voxel in C order — the same
//!    numbering as `scipy.ndimage.label` — and voxel counts and bounding boxes are gathered
//!    while the label image is written run by run.
//!
//! Work is O(voxels) for the scan plus O(runs) for everything else. Memory: the label image,
//! and O(runs); every buffer is allocated fallibly ([`try_label`]).
use crate::alloc;
use crate::error::{Error, Result};
use crate::volume::Element;
use ndarray::{Array3, ArrayView3};

/// Which neighbours are connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Connectivity {
    /// Faces only.
    C6,
    /// Faces and edges.
    C18,
    /// Faces, edges and corners (the paper's choice).
    #[default]
    C26,
}

impl Connectivity {
    /// From 6, 18 or 26.
    pub fn from_number(n: u32) -> Result<Self> {
        match n {
            6 => Ok(Connectivity::C6),
            18 => Ok(Connectivity::C18),
            26 => Ok(Connectivity::C26),
            _ => Err(Error::InvalidArgument(format!("connectivity must be 6, 18 or 26, not {n}"))),
        }
    }
    /// 6, 18 or 26.
    pub fn number(self) -> u32 {
        match self {
            Connectivity::C6 => 6,
            Connectivity::C18 => 18,
            Connectivity::C26 => 26,
        }
    }
}

/// Inclusive voxel bounding box, `[z, y, x]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoundingBox {
    /// First voxel, `[z, y, x]`.
    pub min_zyx: [usize; 3],
    /// Last voxel (inclusive), `[z, y, x]`.
    pub max_zyx: [usize; 3],
}

impl BoundingBox {
    /// Extent `[z, y, x]` in voxels.
    pub fn shape_zyx(&self) -> [usize; 3] {
        [0, 1, 2].map(|a| self.max_zyx[a] - self.min_zyx[a] + 1)
    }
}

/// One connected component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Component {
    /// Its label in [`Components::labels`], `1..=K`.
    pub label: u32,
    /// Number of voxels.
    pub voxels: u64,
    /// Bounding box.
    pub bbox: BoundingBox,
}

/// Result of [`label`].
#[derive(Debug, Clone)]
pub struct Components {
    /// Label per voxel, `[z, y, x]`: 0 background, `1..=K` components.
    pub labels: Array3<u32>,
    /// Components in label order (`components[i].label == i + 1`).
    pub components: Vec<Component>,
    /// Number of background voxels.
    pub background_voxels: u64,
}

impl Components {
    /// Number of components K.
    pub fn count(&self) -> usize {
        self.components.len()
    }
}

#[derive(Clone, Copy)]
struct Run {
    x0: u32,
    x1: u32,
}

#[inline]
fn find(parent: &mut [u32], mut i: u32) -> u32 {
    while parent[i as usize] != i {
        let p = parent[i as usize];
        parent[i as usize] = parent[p as usize];
        i = p;
    }
    i
}

#[inline]
fn union(parent: &mut [u32], a: u32, b: u32) {
    let (ra, rb) = (find(parent, a), find(parent, b));
    if ra < rb {
        parent[rb as usize] = ra;
    } else if rb < ra {
        parent[ra as usize] = rb;
    }
}

/// Joins every run of `cur` (global ids from `cur_base`) with the runs of `prev` (global ids
/// from `prev_base`) whose x-interval overlaps it after widening by `widen` voxels.
#[inline]
fn merge_rows(parent: &mut [u32], cur: &[Run], cur_base: u32, prev: &[Run], prev_base: u32, widen: u32) {
    let mut j = 0usize;
    for (i, a) in cur.iter().enumerate() {
        // Skip the runs of `prev` entirely left of `a`: they cannot touch later runs either.
        while j < prev.len() && prev[j].x1 + widen <= a.x0 {
            j += 1;
        }
        let mut k = j;
        while k < prev.len() && prev[k].x0 < a.x1 + widen {
            union(parent, cur_base + i as u32, prev_base + k as u32);
            k += 1;
        }
    }
}

/// Appends the runs of foreground of one row.
#[inline]
fn scan_row<T: Element>(row: &[T], runs: &mut Vec<Run>, (nz, ny, nx): (usize, usize, usize)) -> Result<()> {
    let zero = T::default();
    let mut x = 0usize;
    while x < nx {
        // Skip background 32 voxels at a time (a branch-free test the compiler vectorises).
        while x + 32 <= nx && row[x..x + 32].iter().fold(true, |all, v| all & (*v == zero)) {
            x += 32;
        }
        if x >= nx {
            break;
        }
        if row[x] == zero {
            x += 1;
            continue;
        }
        let x0 = x;
        while x + 32 <= nx && row[x..x + 32].iter().fold(true, |all, v| all & (*v != zero)) {
            x += 32;
        }
        while x < nx && row[x] != zero {
            x += 1;
        }
        if runs.len() + 1 >= u32::MAX as usize {
            return Err(Error::InvalidArgument(format!(
                "more than 2^32 - 2 runs of foreground in a {nz} x {ny} x {nx} mask: too many for 32-bit run ids"
            )));
        }
        alloc::try_push(runs, Run { x0: x0 as u32, x1: x as u32 }, "the foreground runs of the mask")?;
    }
    Ok(())
}

/// Labels the non-zero voxels of `mask` (`[z, y, x]`) into connected components.
///
/// # Panics
/// Where [`try_label`] fails: a volume too large for the machine's memory, rows of 2^32 voxels
/// or more, 2^32 - 1 runs of foreground or more.
pub fn label<T: Element>(mask: ArrayView3<'_, T>, connectivity: Connectivity) -> Components {
    try_label(mask, connectivity).unwrap_or_else(|e| panic!("{e}"))
}

/// [`label`], with every buffer allocated fallibly: a volume whose labels (or runs) the
/// machine cannot hold is [`Error::OutOfMemory`], rows of 2^32 voxels or more and 2^32 - 1 runs
/// or more (beyond 32-bit run ids) are [`Error::InvalidArgument`]. The label image is allocated
/// first, before any voxel is read, and `mask` is read in place in any layout (strided and
/// zero-stride views included, one row copied at a time): nothing of the mask's size is copied.
pub fn try_label<T: Element>(mask: ArrayView3<'_, T>, connectivity: Connectivity) -> Result<Components> {
    let (nz, ny, nx) = mask.dim();
    if nx >= u32::MAX as usize {
        return Err(Error::InvalidArgument(format!(
            "rows of {nx} voxels: labelling needs rows shorter than 2^32 - 1 voxels (shape [{nz}, {ny}, {nx}])"
        )));
    }
    let what = format!("the labels of a {nz} x {ny} x {nx} volume");
    let n = alloc::voxel_count(&[nz, ny, nx], size_of::<u32>(), &what)?;
    if n == 0 {
        let labels = Array3::from_shape_vec((nz, ny, nx), Vec::new()).expect("an empty volume");
        return Ok(Components { labels, components: Vec::new(), background_voxels: 0 });
    }
    let mut labels: Vec<u32> = alloc::try_zeroed(n, &what)?;

    // 1. Runs, row by row; row r = z * ny + y owns runs[row_start[r]..row_start[r + 1]].
    let mut runs: Vec<Run> = Vec::new();
    let rows = alloc::voxel_count(&[nz, ny], size_of::<u32>(), "the row index of the mask")?;
    let mut row_start: Vec<u32> = alloc::try_with_capacity(rows + 1, "the row index of the mask")?;
    if let Some(flat) = mask.as_slice() {
        for row in flat.chunks_exact(nx) {
            row_start.push(runs.len() as u32);
            scan_row(row, &mut runs, (nz, ny, nx))?;
        }
    } else {
        // A row that is not contiguous in memory (a strided or zero-stride view) is copied here.
        let mut row_copy: Vec<T> = alloc::try_with_capacity(nx, "a row of the mask")?;
        for lane in mask.rows() {
            row_start.push(runs.len() as u32);
            let row: &[T] = match lane.as_slice() {
                Some(r) => r,
                None => {
                    row_copy.clear();
                    row_copy.extend(lane.iter().copied());
                    &row_copy
                }
            };
            scan_row(row, &mut runs, (nz, ny, nx))?;
        }
    }
    row_start.push(runs.len() as u32);

    // 2. Union-find over runs.
    let mut parent: Vec<u32> = alloc::try_collect(0..runs.len() as u32, "the union-find table of the runs")?;
    let row_runs = |r: usize| (row_start[r], &runs[row_start[r] as usize..row_start[r + 1] as usize]);
    // Widening of the x-overlap test: (z, y-1) and (z-1, y) rows use `w_face`; the
    // (z-1, y±1) rows use `w_edge` (None: not neighbours at all, for 6-connectivity).
    let (w_face, w_edge) = match connectivity {
        Connectivity::C6 => (0, None),
        Connectivity::C18 => (1, Some(0)),
        Connectivity::C26 => (1, Some(1)),
    };
    for z in 0..nz {
        for y in 0..ny {
            let r = z * ny + y;
            let (cb, cur) = row_runs(r);
            if cur.is_empty() {
                continue;
            }
            let mut join = |pr: usize, widen: u32| {
                let (pb, prev) = row_runs(pr);
                if !prev.is_empty() {
                    merge_rows(&mut parent, cur, cb, prev, pb, widen);
                }
            };
            // In-plane neighbour row (z, y-1): face (6) or face+edge (18, 26).
            if y > 0 {
                join(r - 1, w_face);
            }
            if z > 0 {
                let below = r - ny;
                // (z-1, y): face for 6, with edge diagonals in x for 18/26.
                join(below, w_face);
                if let Some(w) = w_edge {
                    // (z-1, y±1): edge neighbours (18: straight in x; 26: also corners).
                    if y > 0 {
                        join(below - 1, w);
                    }
                    if y + 1 < ny {
                        join(below + 1, w);
                    }
                }
            }
        }
    }

    // 3. Final labels in raster order, sizes, boxes, and the label image.
    let mut root_label: Vec<u32> = alloc::try_zeroed(runs.len(), "the label table of the runs")?;
    let mut components: Vec<Component> = Vec::new();
    let out = labels.as_mut_slice();
    let mut fg: u64 = 0;
    for z in 0..nz {
        for y in 0..ny {
            let r = z * ny + y;
            let (base, rr) = (row_start[r] as usize, row_start[r + 1] as usize);
            for i in base..rr {
                let root = find(&mut parent, i as u32) as usize;
                if root_label[root] == 0 {
                    let c = Component {
                        label: components.len() as u32 + 1,
                        voxels: 0,
                        bbox: BoundingBox { min_zyx: [z, y, usize::MAX], max_zyx: [z, y, 0] },
                    };
                    alloc::try_push(&mut components, c, "the components")?;
                    root_label[root] = components.len() as u32;
                }
                let l = root_label[root];
                let run = runs[i];
                let c = &mut components[l as usize - 1];
                let len = (run.x1 - run.x0) as u64;
                c.voxels += len;
                fg += len;
                let b = &mut c.bbox;
                b.min_zyx[1] = b.min_zyx[1].min(y);
                b.max_zyx = [z, b.max_zyx[1].max(y), b.max_zyx[2].max(run.x1 as usize - 1)];
                b.min_zyx[2] = b.min_zyx[2].min(run.x0 as usize);
                let off = r * nx;
                out[off + run.x0 as usize..off + run.x1 as usize].fill(l);
            }
        }
    }
    let labels = Array3::from_shape_vec((nz, ny, nx), labels).expect("one label per voxel");
    Ok(Components { labels, components, background_voxels: n as u64 - fg })
}
