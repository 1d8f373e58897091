//! The training step's contract: schedule, non-finite stop, exact resume from a checkpoint,
//! and sliding-window inference reconstructing an identity predictor across seams. Every test
//! that touches a device runs on each one `iw_test_support::devices` gives (the CPU, and
//! cuda:0 where there is one).
use iw_models::{lr_at, sliding_window, Grid, InferenceConfig, LrSchedule, OptimizerConfig, Trainer, UNetConfig};
use tch::{Device, Kind, Tensor};

/// libtorch's generator is global and tests run in parallel threads: tests that seed it hold
/// this lock.
static RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn small() -> UNetConfig {
    UNetConfig { width: 0.25, depth: 2, ..UNetConfig::default() }
}

fn batch(step: i64, dev: Device) -> (Tensor, Tensor) {
    tch::manual_seed(1000 + step);
    let x = Tensor::randn([2, 1, 8, 8, 8], (Kind::Float, Device::Cpu)).to_device(dev);
    let t = x.gt(0.5).to_kind(Kind::Float);
    (x, t)
}

/// A tolerance for `dev`: cuDNN may run convolutions in TF32 (PyTorch's default) and reduce in
/// another order, so CUDA gets its own bound.
fn tol(dev: Device, cpu: f64, cuda: f64) -> f64 {
    if dev.is_cuda() {
        cuda
    } else {
        cpu
    }
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
    for dev in iw_test_support::torch_devices!("non_finite_loss_stops_with_the_step") {
        let mut t = Trainer::new(dev, small(), OptimizerConfig::default(), 0).unwrap();
        let (x, y) = batch(0, dev);
        t.train_step(&x, 0.01, |l| loss(l, &y)).unwrap();
        let e = t.train_step(&x, 0.01, |l| Ok(l.mean(Kind::Float) * f64::NAN)).unwrap_err().to_string();
        assert!(e.contains("non-finite loss") && e.contains("at step 1"), "{dev:?}: {e}");
    }
}

#[test]
fn resume_from_checkpoint_is_exact() {
    let _guard = RNG.lock().unwrap_or_else(|e| e.into_inner());
    for dev in iw_test_support::torch_devices!("resume_from_checkpoint_is_exact") {
        let eps = tol(dev, 1e-6, 1e-4);
        let dir = tempfile::tempdir().unwrap();
        let opt = OptimizerConfig { clip_grad_norm: Some(5.0), ..OptimizerConfig::default() };
        let mut straight = Trainer::new(dev, small(), opt, 7).unwrap();
        let mut losses = Vec::new();
        for s in 0..6 {
            let (x, y) = batch(s, dev);
            losses.push(straight.train_step(&x, 0.02, |l| loss(l, &y)).unwrap());
        }
        let mut first = Trainer::new(dev, small(), opt, 7).unwrap();
        for s in 0..3 {
            let (x, y) = batch(s, dev);
            first.train_step(&x, 0.02, |l| loss(l, &y)).unwrap();
        }
        let ck = dir.path().join("last.safetensors");
        first.save_checkpoint(&ck, serde_json::json!({"batch": 3})).unwrap();
        drop(first);
        // A different seed: everything must come from the checkpoint.
        let mut resumed = Trainer::new(dev, small(), opt, 99).unwrap();
        let meta = resumed.load_checkpoint(&ck).unwrap();
        assert_eq!((meta.step, meta.extra["batch"].as_i64()), (3, Some(3)));
        for s in 3..6 {
            let (x, y) = batch(s, dev);
            let l = resumed.train_step(&x, 0.02, |l| loss(l, &y)).unwrap();
            assert!((l - losses[s as usize]).abs() < eps, "{dev:?} step {s}: {l} vs {}", losses[s as usize]);
        }
        let straight_vars = straight.vs.variables();
        for (k, a) in resumed.vs.variables() {
            assert!((&a - &straight_vars[&k]).abs().max().double_value(&[]) < eps, "{dev:?} {k}");
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
}

/// Several channels: every tile carries all of them, and the volume's padding uses each
/// channel's own minimum.
#[test]
fn sliding_window_passes_every_channel() {
    let _guard = RNG.lock().unwrap_or_else(|e| e.into_inner());
    tch::manual_seed(4);
    let vol = Tensor::randn([2, 21, 30, 17], (Kind::Float, Device::Cpu));
    let devices = iw_test_support::torch_devices!("sliding_window_passes_every_channel");
    for grid in [Grid::Paper, Grid::Flush] {
        let cfg = InferenceConfig {
            patch_dhw: [16, 16, 16],
            stride_dhw: [8, 12, 8],
            divisor: 8,
            grid,
            gaussian: false,
            mirror: true,
        };
        for &dev in &devices {
            let p = sliding_window(&vol, &cfg, dev, |x| {
                assert_eq!(x.size()[..2], [1, 2]);
                Ok((x.narrow(1, 0, 1) - x.narrow(1, 1, 1) * 2.0).shallow_clone())
            })
            .unwrap();
            let want = vol.get(0) - vol.get(1) * 2.0;
            assert_eq!(p.logits.size(), vec![21, 30, 17]);
            assert!((&p.logits - &want).abs().max().double_value(&[]) < 1e-5, "{grid:?} {dev:?}");
        }
    }
}

#[test]
fn sliding_window_reconstructs_identity_exactly() {
    let _guard = RNG.lock().unwrap_or_else(|e| e.into_inner());
    tch::manual_seed(3);
    let vol = Tensor::randn([37, 45, 29], (Kind::Float, Device::Cpu));
    let modes = [(false, false), (false, true), (true, false)];
    let devices = iw_test_support::torch_devices!("sliding_window_reconstructs_identity_exactly");
    for (grid, (gaussian, mirror)) in [Grid::Paper, Grid::Flush].into_iter().flat_map(|g| modes.map(|m| (g, m))) {
        for &dev in &devices {
            let cfg = InferenceConfig {
                patch_dhw: [16, 16, 16],
                stride_dhw: [12, 10, 14],
                divisor: 8,
                grid,
                gaussian,
                mirror,
            };
            let mut calls = 0;
            let p = sliding_window(&vol, &cfg, dev, |x| {
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
    for dev in iw_test_support::torch_devices!("sliding_window_with_one_patch_equals_the_direct_forward") {
        let t = Trainer::new(dev, small(), OptimizerConfig::default(), 1).unwrap();
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
        let p = sliding_window(&vol, &cfg, dev, |x| Ok(t.forward(x, false))).unwrap();
        let direct = tch::no_grad(|| t.forward(&vol.reshape([1, 1, 16, 24, 16]).to_device(dev), false))
            .reshape([16, 24, 16])
            .to_device(Device::Cpu);
        assert!((&p.logits - &direct).abs().max().double_value(&[]) < tol(dev, 1e-5, 1e-4), "{dev:?}");
    }
}

/// Issue 12, point 3: the paper grid against a port of deep_pipe's `patches_grid` +
/// `divisible_shape` (tests/golden/grid_reference.py) on a fixed two-layer convolution: volumes
/// larger and smaller than the patch, tiles that need padding to a multiple of 8, two channels;
/// probabilities and logits averaged separately.
#[test]
fn paper_grid_matches_deep_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("grid.safetensors");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/grid_reference.py");
    iw_test_support::run_python(&script, &[out.to_str().unwrap()]);
    let g: std::collections::HashMap<String, Tensor> = Tensor::read_safetensors(&out).unwrap().into_iter().collect();
    for (dev, i) in
        iw_test_support::torch_devices!("paper_grid_matches_deep_pipe").into_iter().flat_map(|d| [(d, 0), (d, 1)])
    {
        let w = |k: &str| g[k].to_device(dev);
        let (w1, b1, w2, b2) = (w("w1"), w("b1"), w("w2"), w("b2"));
        let net = |x: &Tensor| -> iw_models::Result<Tensor> {
            let h = x.conv3d(&w1, Some(&b1), [1, 1, 1], [1, 1, 1], [1, 1, 1], 1).relu();
            Ok(h.conv3d(&w2, Some(&b2), [1, 1, 1], [1, 1, 1], [1, 1, 1], 1))
        };
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
        let p = sliding_window(&g[&format!("{i}/x")], &cfg, dev, |x| {
            sizes.insert(x.size());
            net(x)
        })
        .unwrap();
        let (want_l, want_p) = (&g[&format!("{i}/logits")], &g[&format!("{i}/probs")]);
        assert_eq!(p.logits.size(), want_l.size());
        let dl = (p.logits.to_kind(Kind::Double) - want_l).abs().max().double_value(&[]);
        let dp = (p.probs.to_kind(Kind::Double) - want_p).abs().max().double_value(&[]);
        assert!(
            dl < tol(dev, 1e-5, 5e-3) && dp < tol(dev, 1e-6, 1e-3),
            "{dev:?} case {i}: logits {dl}, probs {dp}; tiles {sizes:?}"
        );
        // Averaging probabilities is not the sigmoid of averaged logits where tiles overlap.
        let sep = (p.logits.sigmoid() - &p.probs).abs().max().double_value(&[]);
        assert!(sep > 1e-4, "case {i}: probabilities are averaged separately ({sep})");
        assert!(sizes.iter().all(|s| s[2..].iter().all(|&n| n % 8 == 0)), "tiles padded to a multiple of 8: {sizes:?}");
    }
}
