//! Timings of iw-models for `make bench` (scripts/bench/models_peer.py is the PyTorch peer).
//!
//! ```text
//! bench_models train --size 64 [--reps 3] [--width 1] [--device cpu|cuda] [--bf16]
//!     one training step: forward, BCE loss, backward, SGD-Nesterov update, batch 2 x 1 x size^3
//! bench_models infer --shape 128,256,256 [--reps 1] [--device cpu|cuda]
//!     sliding-window inference (the paper grid: patch 160, stride 144) of a D,H,W volume
//! ```
use iw_models::{sliding_window, InferenceConfig, OptimizerConfig, Trainer, UNetConfig};
use iw_test_support::bench::time;
use tch::{Device, Kind, Tensor};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let opt = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let reps: usize = opt("--reps").and_then(|v| v.parse().ok()).unwrap_or(3);
    let width: f64 = opt("--width").and_then(|v| v.parse().ok()).unwrap_or(1.0);
    let device = if opt("--device").as_deref() == Some("cuda") { Device::Cuda(0) } else { Device::Cpu };
    let sync = || {
        if let Device::Cuda(i) = device {
            tch::Cuda::synchronize(i as i64);
        }
    };
    let cfg = UNetConfig { width, ..UNetConfig::default() };
    let o = OptimizerConfig { amp_bf16: args.iter().any(|a| a == "--bf16"), ..OptimizerConfig::default() };
    let mut t = Trainer::new(device, cfg, o, 0).expect("model");
    let times = match args.get(1).map(String::as_str) {
        Some("train") => {
            let n: i64 = opt("--size").and_then(|v| v.parse().ok()).unwrap_or(64);
            tch::manual_seed(1);
            let x = Tensor::randn([2, 1, n, n, n], (Kind::Float, device));
            let y = x.gt(1.0).to_kind(Kind::Float);
            let mut step = || {
                t.train_step(&x, 0.01, |l| {
                    Ok(l.binary_cross_entropy_with_logits::<Tensor>(&y, None, None, tch::Reduction::Mean))
                })
                .expect("step");
                sync();
            };
            time(1, reps, &mut step)
        }
        Some("infer") => {
            let s: Vec<i64> = opt("--shape")
                .unwrap_or_else(|| "128,256,256".into())
                .split(',')
                .map(|v| v.parse().expect("D,H,W"))
                .collect();
            tch::manual_seed(2);
            let vol = Tensor::randn([s[0], s[1], s[2]], (Kind::Float, Device::Cpu));
            let icfg = InferenceConfig::default();
            time(0, reps, || {
                let p = sliding_window(&vol, &icfg, device, |x| Ok(t.forward(x, false))).expect("inference");
                sync();
                p.probs
            })
        }
        _ => {
            eprintln!("usage: bench_models train|infer ...");
            std::process::exit(2);
        }
    };
    println!("{}", times.json(None));
}
