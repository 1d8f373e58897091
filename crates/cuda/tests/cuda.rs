//! The labelling kernels on a GPU against iw-core's CPU labeller: equal labels voxel for voxel
//! and the same K, for 6, 18 and 26 connectivity, on random and adversarial masks and one
//! 512 x 512 x 400 volume. Runtime-checked: without CUDA (no device, driver or NVRTC) it prints
//! 'skipped: no CUDA' and checks only that `label_cuda` refuses cleanly.
mod common;
use common::*;
use iw_core::{label, Connectivity};
use iw_cuda::{available, label_cuda};
use ndarray::Array3;
use std::time::Instant;
use tch::{Device, Kind, Tensor};

fn to_device(m: &Array3<u8>, device: Device) -> Tensor {
    let (d, h, w) = m.dim();
    Tensor::from_slice(m.as_slice().expect("standard layout")).reshape([d as i64, h as i64, w as i64]).to_device(device)
}

fn check(name: &str, m: &Array3<u8>) {
    for conn in [6u32, 18, 26] {
        let want = label(m.view(), Connectivity::from_number(conn).unwrap());
        let got = label_cuda(&to_device(m, Device::Cuda(0)), conn).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(got.count as usize, want.count(), "{name} {:?} conn {conn}: K", m.dim());
        let labels: Vec<i32> = Vec::try_from(got.labels.to_device(Device::Cpu).flatten(0, -1)).unwrap();
        let first_bad = labels.iter().zip(want.labels.iter()).position(|(&a, &b)| a as u32 != b);
        assert_eq!(first_bad, None, "{name} {:?} conn {conn}: labels differ", m.dim());
    }
}

fn cuda_or_skip() -> bool {
    match available() {
        Ok(()) => true,
        Err(e) => {
            println!("skipped: no CUDA ({e})");
            false
        }
    }
}

#[test]
fn gpu_labels_equal_cpu_labels() {
    if !cuda_or_skip() {
        let e = label_cuda(&Tensor::zeros([4, 4, 4], (Kind::Uint8, Device::Cpu)), 26).unwrap_err().to_string();
        assert!(e.contains("not CUDA"), "{e}");
        return;
    }
    for (i, dims) in [[1, 1, 1], [3, 17, 9], [13, 11, 29], [40, 64, 37]].iter().enumerate() {
        for (j, density) in [0.05, 0.3, 0.5, 0.8].iter().enumerate() {
            check("random", &random(*dims, *density, (i * 10 + j) as u64 + 1));
        }
    }
    for dims in [[8, 8, 8], [7, 19, 23], [33, 65, 63]] {
        for (name, m) in adversarial(dims) {
            check(name, &m);
        }
    }
    let e = label_cuda(&Tensor::zeros([4, 4], (Kind::Uint8, Device::Cuda(0))), 26).unwrap_err().to_string();
    assert!(e.contains("[D, H, W]"), "{e}");
}

#[test]
fn gpu_labels_a_512_x_512_x_400_volume() {
    if !cuda_or_skip() {
        return;
    }
    for (name, m) in [("random 0.3", random([400, 512, 512], 0.3, 42)), ("spiral", spiral([400, 512, 512]))] {
        let t = to_device(&m, Device::Cuda(0));
        let c0 = Instant::now();
        let want = label(m.view(), Connectivity::C26);
        let cpu_s = c0.elapsed().as_secs_f64();
        let _ = label_cuda(&t, 26).unwrap(); // compile, load, warm up
        tch::Cuda::synchronize(0);
        let g0 = Instant::now();
        let got = label_cuda(&t, 26).unwrap();
        tch::Cuda::synchronize(0);
        let gpu_s = g0.elapsed().as_secs_f64();
        println!("512x512x400 {name}: K = {}, CPU {cpu_s:.3} s, GPU {gpu_s:.4} s", want.count());
        assert_eq!(got.count as usize, want.count(), "{name}");
        let cpu: Vec<i32> = want.labels.iter().map(|&l| l as i32).collect();
        let cpu_labels = Tensor::from_slice(&cpu);
        let same = got.labels.to_device(Device::Cpu).flatten(0, -1).eq_tensor(&cpu_labels).all().int64_value(&[]);
        assert_eq!(same, 1, "{name}: labels differ");
    }
}
