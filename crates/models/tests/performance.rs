//! The speed options (issue 21) change the speed, not the numbers: channels-last training
//! follows the contiguous run step for step, its checkpoints load into a contiguous network,
//! and `upload` delivers the same values pinned or not. Each test runs on every device
//! `iw_test_support::torch_devices!` gives (the CPU, and cuda:0 where there is one).
use iw_models::{channels_last_3d, is_channels_last_3d, upload, OptimizerConfig, Trainer, UNetConfig};
use tch::{Device, Kind, Tensor};

/// libtorch's generator is global and the tests run in parallel: every test that draws holds this.
static RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn small() -> UNetConfig {
    UNetConfig { width: 0.25, depth: 2, ..UNetConfig::default() }
}

fn batch(step: i64, dev: Device) -> (Tensor, Tensor) {
    tch::manual_seed(2000 + step);
    let x = Tensor::randn([2, 1, 16, 16, 16], (Kind::Float, Device::Cpu)).to_device(dev);
    let t = x.gt(0.5).to_kind(Kind::Float);
    (x, t)
}

fn bce(l: &Tensor, t: &Tensor) -> iw_models::Result<Tensor> {
    Ok(l.binary_cross_entropy_with_logits::<Tensor>(t, None, None, tch::Reduction::Mean))
}

#[test]
fn layout_helpers() {
    let _g = RNG.lock().unwrap_or_else(|e| e.into_inner());
    let x = Tensor::randn([2, 3, 4, 5, 6], (Kind::Float, Device::Cpu));
    assert!(!is_channels_last_3d(&x));
    let y = channels_last_3d(&x).unwrap();
    assert!(is_channels_last_3d(&y));
    assert_eq!(y.size(), x.size());
    assert_eq!(y.stride(), [360, 1, 90, 18, 3]);
    assert_eq!((&y - &x).abs().max().double_value(&[]), 0.0);
    assert!(!is_channels_last_3d(&Tensor::zeros([3, 4], (Kind::Float, Device::Cpu))));
}

#[test]
fn channels_last_training_follows_the_contiguous_run() {
    let _g = RNG.lock().unwrap_or_else(|e| e.into_inner());
    for dev in iw_test_support::torch_devices!("channels_last_training_follows_the_contiguous_run") {
        let mut plain = Trainer::new(dev, small(), OptimizerConfig::default(), 3).unwrap();
        let mut cl = Trainer::new(dev, small(), OptimizerConfig::default(), 3).unwrap();
        cl.set_channels_last(true).unwrap();
        assert!(cl.channels_last());
        let convs: Vec<Tensor> = cl.vs.variables().into_values().filter(|v| v.dim() == 5).collect();
        assert!(!convs.is_empty() && convs.iter().all(is_channels_last_3d), "{dev:?}: weights not channels-last");
        // Gradients of one step agree to rounding (relative to the largest gradient: the conv
        // biases before a BatchNorm have zero gradient in exact arithmetic, pure noise here).
        // TF32 convolutions on CUDA round differently in the two layouts.
        let (gtol, tol) = if dev.is_cuda() { (1e-2, 2e-2) } else { (1e-5, 1e-3) };
        let (x, y) = batch(0, dev);
        plain.train_step(&x, 0.0, |l| bce(l, &y)).unwrap();
        cl.train_step(&x, 0.0, |l| bce(l, &y)).unwrap();
        let (pa, pb) = (plain.vs.variables(), cl.vs.variables());
        let grads: Vec<(String, Tensor, Tensor)> =
            pa.iter().filter(|(_, v)| v.grad().defined()).map(|(k, v)| (k.clone(), v.grad(), pb[k].grad())).collect();
        let gmax = grads.iter().map(|(_, a, _)| a.abs().max().double_value(&[])).fold(0.0, f64::max);
        assert!(gmax > 0.0 && grads.len() > 10);
        for (k, a, b) in &grads {
            let d = (a - b).abs().max().double_value(&[]);
            assert!(d <= gtol * gmax, "{dev:?} {k}: gradients differ by {d} (largest {gmax})");
        }
        for step in 1..4 {
            let (x, y) = batch(step, dev);
            let a = plain.train_step(&x, 0.01, |l| bce(l, &y)).unwrap();
            let b = cl.train_step(&x, 0.01, |l| bce(l, &y)).unwrap();
            assert!((a - b).abs() <= tol * a.abs().max(1.0), "{dev:?} step {step}: {a} vs {b}");
        }
        assert!(convs.iter().all(is_channels_last_3d), "{dev:?}: the update changed the layout");
        // A channels-last checkpoint loads into a contiguous network and predicts the same.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cl.safetensors");
        cl.save_checkpoint(&path, serde_json::json!({})).unwrap();
        let mut back = Trainer::new(dev, small(), OptimizerConfig::default(), 99).unwrap();
        back.load_checkpoint(&path).unwrap();
        let (x, _) = batch(10, dev);
        let d = (cl.forward(&x, false) - back.forward(&x, false)).abs().max().double_value(&[]);
        assert!(d <= tol, "{dev:?}: reloaded network differs by {d}");
        // And back to contiguous.
        cl.set_channels_last(false).unwrap();
        assert!(cl.vs.variables().values().filter(|v| v.dim() == 5).all(|v| v.is_contiguous()));
    }
}

#[test]
fn upload_gives_the_same_values_pinned_or_not() {
    for dev in iw_test_support::torch_devices!("upload_gives_the_same_values_pinned_or_not") {
        let x = Tensor::arange(1000, (Kind::Float, Device::Cpu)).reshape([10, 100]);
        for pinned in [false, true] {
            let y = upload(&x, dev, pinned).unwrap();
            assert_eq!(y.device(), dev);
            let back = y.to_device(Device::Cpu);
            assert_eq!((back - &x).abs().max().double_value(&[]), 0.0, "{dev:?} pinned {pinned}");
        }
    }
}
