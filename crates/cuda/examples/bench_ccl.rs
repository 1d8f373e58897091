//! GPU labelling (`iw_cuda::label_cuda`) against iw-core's CPU labeller on the same masks, for
//! scripts/gpu/check.sh (scripts/bench/ccl_peer.py times cupyx / cuCIM on the same masks).
//!
//! ```text
//! bench_ccl [--shape 400,512,512] [--reps 5] [--connectivity 26]
//! ```
//! Masks: random at density 0.05 and 0.3 (seeded), and a 3D checkerboard (the worst case for
//! union-find). One JSON line per mask: K, CPU and GPU medians in seconds, and whether the labels
//! agree; without CUDA it prints 'skipped: no CUDA' and exits 0.
use iw_test_support::bench::time;
use ndarray::Array3;
use tch::{Device, Tensor};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let opt = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let s: Vec<usize> = opt("--shape")
        .unwrap_or_else(|| "400,512,512".into())
        .split(',')
        .map(|v| v.parse().expect("--shape D,H,W"))
        .collect();
    let reps: usize = opt("--reps").and_then(|v| v.parse().ok()).unwrap_or(5);
    let conn: u32 = opt("--connectivity").and_then(|v| v.parse().ok()).unwrap_or(26);
    if let Err(e) = iw_cuda::available() {
        println!("skipped: no CUDA ({e})");
        return;
    }
    let dims = (s[0], s[1], s[2]);
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut rnd = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    };
    let masks: Vec<(&str, Array3<u8>)> = vec![
        ("random-0.05", Array3::from_shape_fn(dims, |_| (rnd() < 0.05) as u8)),
        ("random-0.3", Array3::from_shape_fn(dims, |_| (rnd() < 0.3) as u8)),
        ("checkerboard", Array3::from_shape_fn(dims, |(z, y, x)| ((z + y + x) % 2) as u8)),
    ];
    let c = iw_core::Connectivity::from_number(conn).expect("--connectivity 6, 18 or 26");
    for (name, m) in masks {
        let gpu_mask = Tensor::from_slice(m.as_slice().expect("standard"))
            .reshape([s[0] as i64, s[1] as i64, s[2] as i64])
            .to_device(Device::Cuda(0));
        let cpu = time(0, reps.min(3), || iw_core::label(m.view(), c).count());
        let want = iw_core::label(m.view(), c);
        let gpu = time(1, reps, || {
            let out = iw_cuda::label_cuda(&gpu_mask, conn).expect("label_cuda");
            tch::Cuda::synchronize(0);
            out.count
        });
        let got = iw_cuda::label_cuda(&gpu_mask, conn).expect("label_cuda");
        let cpu_labels: Vec<i32> = want.labels.iter().map(|&l| l as i32).collect();
        let same = got.count as usize == want.count()
            && got
                .labels
                .to_device(Device::Cpu)
                .flatten(0, -1)
                .eq_tensor(&Tensor::from_slice(&cpu_labels))
                .all()
                .int64_value(&[])
                == 1;
        let mvox = (s[0] * s[1] * s[2]) as f64 / 1e6;
        println!(
            "{{\"mask\": \"{name}\", \"shape\": {s:?}, \"connectivity\": {conn}, \"components\": {}, \"cpu_s\": {:.6}, \"gpu_s\": {:.6}, \"gpu_mvox_per_s\": {:.0}, \"equal\": {same}}}",
            want.count(),
            cpu.median(),
            gpu.median(),
            mvox / gpu.median()
        );
    }
}
