//! The training step's contract: schedule, non-finite stop, exact resume from a checkpoint,
//! and sliding-window inference reconstructing an identity predictor across seams.
use iw_models::{lr_at, sliding_window, Grid, InferenceConfig, LrSchedule, OptimizerConfig, Trainer, UNetConfig};
use tch::{Device, Kind, Tensor};

/// libtorch's generator is global and tests run in parallel threads: tests that seed it hold
/// this lock.
static RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn small() -> UNetConfig {
    UNetConfig { width: 0.25, depth: 2, ..UNetConfig::default() }
}

fn batch(step: i64) -> (Tensor, Tensor) {
    tch::manual_seed(1000 + step);
    let x = Tensor::randn([2, 1, 8, 8, 8], (Kind::Float, Device::Cpu));
    let t = x.gt(0.5).to_kind(Kind::Float);
    (x, t)
}

fn loss(logits: &Tensor, t: &Tensor) -> iw_models::Result<Tensor> {
    Ok(logits.binary_cross_entropy_with_logits::<Tensor>(t, None, None, tch::Reduction::Mean))
}

/// Issue 12, point 5: deep_pipe's `Schedule(initial=1e-2, epoch2value_multiplier={80: 0.1})`
/// multiplies the rate in `epoch_finished(80)`: epochs 0..=80 (81 of them) run at 1e-2.
#[test]
fn schedule_drops_after_epoch_80_as_deep_pipe() {
    let s = LrSchedule::default();
    let at: Vec<f64> = (0..100).map(|e| lr_at(&s, e)).collect();
    assert_eq!(at.iter().filter(|&&v| v == 1e-2).count(), 81);
    assert_eq!((at[0], at[80]), (1e-2, 1e-2));
    assert!(at[81..].iter().all(|&v| (v - 1e-3).abs() < 1e-15));
    // Two milestones compound, each after its epoch.
    let s = LrSchedule { base: 1.0, milestones: vec![1, 3], gamma: 0.5 };
    assert_eq!((0..6).map(|e| lr_at(&s, e)).collect::<Vec<_>>(), [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]);
}

#[test]
fn non_finite_loss_stops_with_the_step() {
    let _guard = RNG.lock().unwrap_or_else(|e| e.into_inner());
    let mut t = Trainer::new(Device::Cpu, small(), OptimizerConfig::default(), 0).unwrap();
    let (x, y) = batch(0);
    t.train_step(&x, 0.01, |l| loss(l, &y)).unwrap();
    let e = t.train_step(&x, 0.01, |l| Ok(l.mean(Kind::Float) * f64::NAN)).unwrap_err().to_string();
    assert!(e.contains("non-finite loss") && e.contains("at step 1"), "{e}");
}

#[test]
fn resume_from_checkpoint_is_exact() {
    let _guard = RNG.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let opt = OptimizerConfig { clip_grad_norm: Some(5.0), ..OptimizerConfig::default() };
    let mut straight = Trainer::new(Device::Cpu, small(), opt, 7).unwrap();
    let mut losses = Vec::new();
    for s in 0..6 {
        let (x, y) = batch(s);
        losses.push(straight.train_step(&x, 0.02, |l| loss(l, &y)).unwrap());
    }
    let mut first = Trainer::new(Device::Cpu, small(), opt, 7).unwrap();
    for s in 0..3 {
        let (x, y) = batch(s);
        first.train_step(&x, 0.02, |l| loss(l, &y)).unwrap();
    }
    let ck = dir.path().join("last.safetensors");
    first.save_checkpoint(&ck, serde_json::json!({"batch": 3})).unwrap();
    drop(first);
    // A different seed: everything must come from the checkpoint.
    let mut resumed = Trainer::new(Device::Cpu, small(), opt, 99).unwrap();
    let meta = resumed.load_checkpoint(&ck).unwrap();
    assert_eq!((meta.step, meta.extra["batch"].as_i64()), (3, Some(3)));
    for s in 3..6 {
        let (x, y) = batch(s);
        let l = resumed.train_step(&x, 0.02, |l| loss(l, &y)).unwrap();
        assert!((l - losses[s as usize]).abs() < 1e-6, "step {s}: {l} vs {}", losses[s as usize]);
    }
    let straight_vars = straight.vs.variables();
    for (k, a) in resumed.vs.variables() {
        assert!((&a - &straight_vars[&k]).abs().max().double_value(&[]) < 1e-6, "{k}");
    }
    assert!(std::fs::read_dir(dir.path()).unwrap().all(|e| !e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .starts_with(".iwtmp")));
    // A corrupt checkpoint is a clear error.
    std::fs::write(&ck, b"garbage").unwrap();
    let e = resumed.load_checkpoint(&ck).err().unwrap().to_string();
    assert!(e.contains("last.safetensors") && e.contains("not a readable checkpoint"), "{e}");
}

/// Several channels: every tile carries all of them, and the volume's padding uses each
/// channel's own minimum.
#[test]
fn sliding_window_passes_every_channel() {
    let _guard = RNG.lock().unwrap_or_else(|e| e.into_inner());
    tch::manual_seed(4);
    let vol = Tensor::randn([2, 21, 30, 17], (Kind::Float, Device::Cpu));
    for grid in [Grid::Paper, Grid::Flush] {
        let cfg = InferenceConfig {
            patch_dhw: [16, 16, 16],
            stride_dhw: [8, 12, 8],
            divisor: 8,
            grid,
            gaussian: false,
            mirror: true,
        };
        let p = sliding_window(&vol, &cfg, Device::Cpu, |x| {
            assert_eq!(x.size()[..2], [1, 2]);
            Ok((x.narrow(1, 0, 1) - x.narrow(1, 1, 1) * 2.0).shallow_clone())
        })
        .unwrap();
        let want = vol.get(0) - vol.get(1) * 2.0;
        assert_eq!(p.logits.size(), vec![21, 30, 17]);
        assert!((&p.logits - &want).abs().max().double_value(&[]) < 1e-5, "{grid:?}");
    }
}

#[test]
fn sliding_window_reconstructs_identity_exactly() {
    let _guard = RNG.lock().unwrap_or_else(|e| e.into_inner());
    tch::manual_seed(3);
    let vol = Tensor::randn([37, 45, 29], (Kind::Float, Device::Cpu));
    let modes = [(false, false), (false, true), (true, false)];
    for (grid, (gaussian, mirror)) in [Grid::Paper, Grid::Flush].into_iter().flat_map(|g| modes.map(|m| (g, m))) {
        let cfg =
            InferenceConfig { patch_dhw: [16, 16, 16], stride_dhw: [12, 10, 14], divisor: 8, grid, gaussian, mirror };
        let mut calls = 0;
        let p = sliding_window(&vol, &cfg, Device::Cpu, |x| {
            calls += 1;
            Ok(x.shallow_clone())
        })
        .unwrap();
        assert_eq!(p.logits.size(), vec![37, 45, 29]);
        let diff = (&p.logits - &vol).abs().max().double_value(&[]);
        if gaussian {
            assert!(diff < 1e-6, "{grid:?} gaussian: {diff}");
        } else {
            assert_eq!(diff, 0.0, "uniform averaging of an identity is exact ({grid:?}, mirror {mirror})");
        }
        assert!((&p.probs - vol.sigmoid()).abs().max().double_value(&[]) < 1e-6, "{grid:?}");
        assert!(calls >= 8, "several patches were used");
    }
    // The predictor's output shape is checked.
    let e = sliding_window(
        &vol,
        &InferenceConfig { patch_dhw: [16; 3], stride_dhw: [16; 3], ..InferenceConfig::default() },
        Device::Cpu,
        |x| Ok(x.narrow(2, 0, 8)),
    )
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("predictor returned"), "{e}");
}

#[test]
fn sliding_window_with_one_patch_equals_the_direct_forward() {
    let _guard = RNG.lock().unwrap_or_else(|e| e.into_inner());
    let t = Trainer::new(Device::Cpu, small(), OptimizerConfig::default(), 1).unwrap();
    tch::manual_seed(5);
    let vol = Tensor::randn([16, 24, 16], (Kind::Float, Device::Cpu));
    // The flush grid adds no padding here (every side a multiple of 8).
    let cfg = InferenceConfig {
        patch_dhw: [32, 32, 32],
        stride_dhw: [32, 32, 32],
        divisor: 8,
        grid: Grid::Flush,
        gaussian: false,
        mirror: false,
    };
    let p = sliding_window(&vol, &cfg, Device::Cpu, |x| Ok(t.forward(x, false))).unwrap();
    let direct = tch::no_grad(|| t.forward(&vol.reshape([1, 1, 16, 24, 16]), false)).reshape([16, 24, 16]);
    assert!((&p.logits - &direct).abs().max().double_value(&[]) < 1e-5);
}

/// Issue 12, point 3: the paper grid against a port of deep_pipe's `patches_grid` +
/// `divisible_shape` (tests/golden/grid_reference.py) on a fixed two-layer convolution: volumes
/// larger and smaller than the patch, tiles that need padding to a multiple of 8, two channels;
/// probabilities and logits averaged separately.
#[test]
fn paper_grid_matches_deep_pipe() {
    let python = std::env::var("IW_PYTHON")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python"));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("grid.safetensors");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/grid_reference.py");
    let o = std::process::Command::new(&python).arg(script).arg(&out).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let g: std::collections::HashMap<String, Tensor> = Tensor::read_safetensors(&out).unwrap().into_iter().collect();
    let net = |x: &Tensor| -> iw_models::Result<Tensor> {
        let h = x.conv3d(&g["w1"], Some(&g["b1"]), [1, 1, 1], [1, 1, 1], [1, 1, 1], 1).relu();
        Ok(h.conv3d(&g["w2"], Some(&g["b2"]), [1, 1, 1], [1, 1, 1], [1, 1, 1], 1))
    };
    for i in 0..2 {
        let v = |k: &str| Vec::<i64>::try_from(&g[&format!("{i}/{k}")]).unwrap();
        let (patch, stride) = (v("patch"), v("stride"));
        let cfg = InferenceConfig {
            patch_dhw: [patch[0], patch[1], patch[2]],
            stride_dhw: [stride[0], stride[1], stride[2]],
            divisor: 8,
            grid: Grid::Paper,
            gaussian: false,
            mirror: false,
        };
        let mut sizes = std::collections::BTreeSet::new();
        let p = sliding_window(&g[&format!("{i}/x")], &cfg, Device::Cpu, |x| {
            sizes.insert(x.size());
            net(x)
        })
        .unwrap();
        let (want_l, want_p) = (&g[&format!("{i}/logits")], &g[&format!("{i}/probs")]);
        assert_eq!(p.logits.size(), want_l.size());
        let dl = (p.logits.to_kind(Kind::Double) - want_l).abs().max().double_value(&[]);
        let dp = (p.probs.to_kind(Kind::Double) - want_p).abs().max().double_value(&[]);
        assert!(dl < 1e-5 && dp < 1e-6, "case {i}: logits {dl}, probs {dp}; tiles {sizes:?}");
        // Averaging probabilities is not the sigmoid of averaged logits where tiles overlap.
        let sep = (p.logits.sigmoid() - &p.probs).abs().max().double_value(&[]);
        assert!(sep > 1e-4, "case {i}: probabilities are averaged separately ({sep})");
        assert!(sizes.iter().all(|s| s[2..].iter().all(|&n| n % 8 == 0)), "tiles padded to a multiple of 8: {sizes:?}");
    }
}
