//! Forward + backward of each paper loss configuration on a 2 x 1 x 128^3 batch, for
//! `make bench` (scripts/bench/run.py runs scripts/bench/losses_peer.py beside it).
//!
//! ```text
//! bench_losses LABELS.nii [--reps 10] [--device cpu|cuda]
//! ```
//! LABELS is a 128^3 label patch; the batch holds it twice (the second flipped). Logits are
//! seeded normal noise. Prints one JSON object: configuration -> median seconds.
use iw_losses::{Compute, LossConfig, LossInputs, PAPER_CONFIGURATIONS};
use iw_test_support::bench::time;
use tch::{Device, Kind, Tensor};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = args.get(1).expect("usage: bench_losses LABELS.nii [--reps N] [--device cpu|cuda]");
    let opt = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let reps: usize = opt("--reps").and_then(|v| v.parse().ok()).unwrap_or(10);
    let device = match opt("--device").as_deref() {
        Some("cuda") => Device::Cuda(0),
        _ => Device::Cpu,
    };
    let vol = iw_io::read_volume(path).expect("reading the labels").to_f64();
    let [d, h, w] = vol.shape_zyx();
    let flat: Vec<i64> = vol.data.iter().map(|&v| v as i64).collect();
    let one = Tensor::from_slice(&flat).reshape([1, 1, d as i64, h as i64, w as i64]);
    let labels = Tensor::cat(&[one.shallow_clone(), one.flip([4])], 0).to_device(device);
    let max_label = labels.max().int64_value(&[]);
    let target = labels.gt(0).to_kind(Kind::Float);
    tch::manual_seed(0);
    let logits0 = Tensor::randn([2, 1, d as i64, h as i64, w as i64], (Kind::Float, device)) * 3.0;
    let mut out = Vec::new();
    for name in PAPER_CONFIGURATIONS {
        let cfg = LossConfig::from_name(name).expect("a paper configuration");
        let run = || {
            let x = logits0.detach().set_requires_grad(true);
            let v = cfg
                .compute(&LossInputs {
                    logits: &x,
                    target: &target,
                    labels: Some(&labels),
                    regions: None,
                    max_label: Some(max_label),
                })
                .expect("loss");
            v.backward();
            let g = x.grad();
            if device != Device::Cpu {
                tch::Cuda::synchronize(0);
            }
            g
        };
        let ts = time(2, reps, run);
        out.push(format!("\"{name}\": {:.6}", ts.median()));
    }
    println!("{{{}}}", out.join(", "));
}
