//! iw-models against the PyTorch reference (tests/golden/unet_reference.py): parameter count,
//! every parameter's name and shape, the forward output on a fixed input in eval and train mode
//! (1e-4), the running statistics after a train pass, and three SGD-Nesterov steps.
use iw_models::{parameter_count, OptimizerConfig, ResUNet, Trainer, UNetConfig};
use std::collections::HashMap;
use std::path::Path;
use tch::{nn, Device, Kind, Tensor};

fn reference(width: f64, depth: usize) -> (tempfile::TempDir, serde_json::Value, HashMap<String, Tensor>) {
    let python = std::env::var("IW_PYTHON")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python"));
    assert!(python.exists(), "{} is missing: run `make setup`", python.display());
    let dir = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/unet_reference.py");
    let o = std::process::Command::new(python)
        .arg(script)
        .arg(dir.path())
        .arg(width.to_string())
        .arg(depth.to_string())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("info.json")).unwrap()).unwrap();
    let io = Tensor::read_safetensors(dir.path().join("io.safetensors")).unwrap().into_iter().collect();
    (dir, info, io)
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().double_value(&[])
}

#[test]
fn the_papers_network_has_11074306_parameters() {
    let vs = nn::VarStore::new(Device::Cpu);
    let _ = ResUNet::new(&vs.root(), UNetConfig::default()).unwrap();
    assert_eq!(parameter_count(&vs), 11_074_306);
}

#[test]
fn matches_pytorch_reference() {
    for (width, depth) in [(0.5, 3), (0.25, 2)] {
        let (dir, info, io) = reference(width, depth);
        let cfg = UNetConfig { width, depth, ..UNetConfig::default() };
        let mut vs = nn::VarStore::new(Device::Cpu);
        let model = ResUNet::new(&vs.root(), cfg).unwrap();
        assert_eq!(parameter_count(&vs), info["params"].as_i64().unwrap(), "parameter count");
        let shapes = info["shapes"].as_object().unwrap();
        let vars = vs.variables();
        assert_eq!(vars.len(), shapes.len(), "same variables (weights and running statistics)");
        for (k, v) in &vars {
            let want: Vec<i64> = shapes
                .get(k)
                .unwrap_or_else(|| panic!("{k} not in the reference"))
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_i64().unwrap())
                .collect();
            assert_eq!(v.size(), want, "{k}");
        }
        vs.load(dir.path().join("weights.safetensors")).unwrap();
        let x = &io["input"];
        let y_eval = tch::no_grad(|| model.forward(x, false));
        assert!(
            max_abs_diff(&y_eval, &io["eval"]) < 1e-4,
            "eval output, width {width} depth {depth}: {}",
            max_abs_diff(&y_eval, &io["eval"])
        );
        let y_train = tch::no_grad(|| model.forward(x, true));
        assert!(max_abs_diff(&y_train, &io["train"]) < 1e-4, "train output: {}", max_abs_diff(&y_train, &io["train"]));
        for (k, v) in vs.variables() {
            if let Some(want) = io.get(&format!("after_train/{k}")) {
                assert!(max_abs_diff(&v, want) < 1e-5, "{k} after a train pass");
            }
        }

        // Three training steps from the reference weights: SGD with Nesterov momentum.
        let mut t = Trainer::new(Device::Cpu, cfg, OptimizerConfig::default(), 0).unwrap();
        t.vs.load(dir.path().join("weights.safetensors")).unwrap();
        let want_losses: Vec<f64> = Vec::<f64>::try_from(&io["sgd_losses"]).unwrap();
        for (i, want) in want_losses.iter().enumerate() {
            let l = t.train_step(x, 0.01, |logits| Ok(logits.square().mean(Kind::Float))).unwrap();
            assert!((l - want).abs() <= 1e-4 * want.abs().max(1e-3), "step {i}: loss {l} vs {want}");
        }
        for (k, v) in t.vs.variables() {
            let want = &io[&format!("after_sgd/{k}")];
            assert!(max_abs_diff(&v, want) < 1e-4, "{k} after 3 steps: {}", max_abs_diff(&v, want));
        }
    }
}
