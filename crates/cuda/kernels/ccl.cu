// Connected-component labelling of a 3D mask, union-find on the GPU (Playne and Hawick 2018,
// "A new algorithm for parallel connected-component labelling on GPUs"; Allegretti et al. 2020
// for the block decomposition). Read src/ccl.rs first: it states the algorithm and runs the same
// steps serially (the CPU emulation that the tests compare with iw-core's labeller).
//
// Volume [nz, ny, nx], C order, voxel index i = (z * ny + y) * nx + x < 2^32 - 1.
// p[i] is a parent pointer: BG for background, else an index <= i; a root has p[r] == r.
// Every union hangs the larger root under the smaller (atomicMin), so pointers only decrease,
// there are no cycles, and in the end each component's root is its smallest index: its first
// voxel in C order. That is what the relabelling (torch ops, src/ccl.rs) numbers 1..K by.
//
// Blocks of TX x TY x TZ threads cover tiles of the volume. Merge pass 0 joins neighbours inside
// a tile, pass 1 the neighbours across tile faces; the result does not depend on the split (nor
// on thread order), the split keeps pass 0's trees local and pass 1's work to the tile borders.
#define BG 0xffffffffu
#define TX 8
#define TY 8
#define TZ 4

extern "C" {

__device__ unsigned iw_find(const unsigned* p, unsigned i) {
    unsigned q = p[i];
    while (q != i) {
        i = q;
        q = p[i];
    }
    return i;
}

// Joins the sets of a and b (lock-free: a lost race is retried from the new roots).
__device__ void iw_unite(unsigned* p, unsigned a, unsigned b) {
    a = iw_find(p, a);
    b = iw_find(p, b);
    while (a != b) {
        if (a < b) {
            unsigned t = a;
            a = b;
            b = t;
        }
        // a > b: hang root a under b. If a is no longer a root, atomicMin still leaves p[a] at
        // min(old, b) <= old, and the join continues from old's root.
        unsigned old = atomicMin(&p[a], b);
        if (old == a) {
            return;
        }
        a = iw_find(p, old);
        b = iw_find(p, b);
    }
}

__global__ void iw_ccl_init(const unsigned char* mask, unsigned* p, unsigned n) {
    for (unsigned long long i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        p[i] = mask[i] ? i : BG;
    }
}

// One thread per voxel; 3D grid of TX x TY x TZ blocks. conn: 6, 18 or 26. pass: 0 = neighbours
// in the same tile, 1 = neighbours in another tile. Only the 13 "earlier" neighbours (those
// before the voxel in C order) are visited: each pair of neighbours is joined once.
__global__ void iw_ccl_merge(const unsigned char* mask, unsigned* p, int nz, int ny, int nx, int conn, int pass) {
    int x = blockIdx.x * TX + threadIdx.x;
    int y = blockIdx.y * TY + threadIdx.y;
    int z = blockIdx.z * TZ + threadIdx.z;
    if (x >= nx || y >= ny || z >= nz) {
        return;
    }
    unsigned i = ((unsigned)z * ny + y) * nx + x;
    if (!mask[i]) {
        return;
    }
    for (int dz = -1; dz <= 0; ++dz) {
        for (int dy = -1; dy <= 1; ++dy) {
            for (int dx = -1; dx <= 1; ++dx) {
                if (dz == 0 && (dy > 0 || (dy == 0 && dx >= 0))) {
                    continue;  // not earlier in C order
                }
                int m = (dz != 0) + (dy != 0) + (dx != 0);
                if ((conn == 6 && m > 1) || (conn == 18 && m > 2)) {
                    continue;
                }
                int zz = z + dz, yy = y + dy, xx = x + dx;
                if (zz < 0 || yy < 0 || xx < 0 || xx >= nx || yy >= ny) {
                    continue;
                }
                bool same = zz / TZ == z / TZ && yy / TY == y / TY && xx / TX == x / TX;
                if (same != (pass == 0)) {
                    continue;
                }
                unsigned j = ((unsigned)zz * ny + yy) * nx + xx;
                if (mask[j]) {
                    iw_unite(p, i, j);
                }
            }
        }
    }
}

// Points every foreground voxel at its root.
__global__ void iw_ccl_compress(unsigned* p, unsigned n) {
    for (unsigned long long i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        if (p[i] != BG) {
            p[i] = iw_find(p, i);
        }
    }
}

}  // extern "C"
