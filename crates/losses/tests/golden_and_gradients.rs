//! iw-losses against golden values and gradients in tests/golden/losses.safetensors, written by
//! tests/golden/losses_reference.py (each
//! formula written again in PyTorch, float64), on random inputs, empty targets, all-foreground
//! targets and logits of ±100; finite-difference gradient checks in double precision; the
//! tensor inverse weights against iw-data's; shape errors. Every test body runs on the CPU and,
//! where a GPU is present, on CUDA (else it prints "skipped: no CUDA").
use iw_losses::{inverse_weights, wce_pos_weight, Compute, LossConfig, LossInputs};
use std::collections::HashMap;
use std::path::Path;
use tch::{Device, Kind, Tensor};

const CONFIGS: [&str; 19] = [
    "bce",
    "iwbce",
    "wce",
    "dl",
    "iwdl",
    "gdl",
    "fl",
    "iwfl",
    "asl",
    "iwasl",
    "iwwce",
    "iwgdl",
    "dlbce",
    "blob-dl",
    "blob-iwbce",
    "blob-fl",
    "cc-dlbce",
    "cc-iwdl",
    "cc-bce",
];
const CASES: [&str; 5] = ["random", "empty", "full", "extreme", "half"];

/// The committed golden file, written by tests/golden/losses_reference.py and read by this test
/// and by the Python package's tests (crates/python/tests/test_torch_losses.py), which also
/// regenerates it with the script and checks that it still matches.
fn golden() -> HashMap<String, Tensor> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/losses.safetensors");
    Tensor::read_safetensors(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).into_iter().collect()
}

fn value_and_grad(name: &str, x: &Tensor, t: &Tensor, labels: &Tensor, regions: &Tensor) -> (Tensor, Tensor) {
    let cfg = LossConfig::from_name(name).unwrap();
    let x = x.detach().set_requires_grad(true);
    let v = cfg
        .compute(&LossInputs { logits: &x, target: t, labels: Some(labels), regions: Some(regions), max_label: None })
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    v.backward();
    (v.detach(), x.grad())
}

fn allclose(a: &Tensor, b: &Tensor, rtol: f64) -> bool {
    let a = a.to_device(Device::Cpu).to_kind(Kind::Double);
    let b = b.to_device(Device::Cpu).to_kind(Kind::Double);
    let scale = b.abs().max().double_value(&[]);
    let tol = b.abs() * rtol + (1e-12 + rtol * 1e-3 * scale);
    (a - &b).abs().le_tensor(&tol).all().int64_value(&[]) == 1
}

#[test]
fn matches_pytorch_golden_values_and_gradients() {
    let g = golden();
    for dev in iw_test_support::torch_devices!("matches_pytorch_golden_values_and_gradients") {
        for c in CASES {
            let get = |k: &str| g[&format!("{c}/{k}")].to_device(dev);
            let (x, t, labels, regions) = (get("logits"), get("target"), get("labels"), get("regions"));
            for n in CONFIGS {
                let (v, grad) = value_and_grad(n, &x, &t, &labels, &regions);
                let (gv, gg) = (get(&format!("{n}/value")), get(&format!("{n}/grad")));
                assert!(
                    v.isfinite().all().int64_value(&[]) == 1 && grad.isfinite().all().int64_value(&[]) == 1,
                    "{c}/{n} on {dev:?}: non-finite"
                );
                assert!(
                    allclose(&v.reshape([1]), &gv, 1e-5),
                    "{c}/{n} on {dev:?}: value {} vs golden {}",
                    v.double_value(&[]),
                    gv.double_value(&[0])
                );
                assert!(allclose(&grad, &gg, 1e-5), "{c}/{n} on {dev:?}: gradient differs from golden");
            }
        }
    }
}

/// The same losses in float32 stay finite at logits of ±100 (values and gradients).
#[test]
fn finite_in_float32_at_extreme_logits() {
    let g = golden();
    for dev in iw_test_support::torch_devices!("finite_in_float32_at_extreme_logits") {
        let get = |k: &str| g[&format!("extreme/{k}")].to_device(dev);
        let x = get("logits").to_kind(Kind::Float);
        let t = get("target").to_kind(Kind::Float);
        for n in CONFIGS {
            let (v, grad) = value_and_grad(n, &x, &t, &get("labels"), &get("regions"));
            assert_eq!(v.isfinite().all().int64_value(&[]), 1, "{n}: value");
            assert_eq!(grad.isfinite().all().int64_value(&[]), 1, "{n}: gradient");
        }
    }
}

/// Central differences in double precision at a few coordinates, for every configuration (WCE
/// included: its adaptive weight is part of the graph, as in deep_pipe).
#[test]
fn gradients_match_finite_differences() {
    let g = golden();
    let get = |k: &str| g[&format!("random/{k}")].shallow_clone();
    let (x, t, labels, regions) = (get("logits"), get("target"), get("labels"), get("regions"));
    let h = 1e-6;
    let coords: Vec<Vec<i64>> =
        vec![vec![0, 0, 0, 0, 0], vec![0, 0, 3, 4, 5], vec![1, 0, 7, 8, 9], vec![1, 0, 2, 6, 1], vec![0, 0, 5, 2, 8]];
    for n in CONFIGS {
        let cfg = LossConfig::from_name(n).unwrap();
        let f = |xx: &Tensor| {
            cfg.compute(&LossInputs {
                logits: xx,
                target: &t,
                labels: Some(&labels),
                regions: Some(&regions),
                max_label: None,
            })
            .unwrap()
        };
        let xg = x.detach().set_requires_grad(true);
        f(&xg).backward();
        let grad = xg.grad();
        for c in &coords {
            let bump = |d: f64| {
                let xx = x.copy();
                let _ = xx.get(c[0]).get(c[1]).get(c[2]).get(c[3]).get(c[4]).f_add_(&Tensor::from(d)).unwrap();
                tch::no_grad(|| f(&xx).double_value(&[]))
            };
            let fd = (bump(h) - bump(-h)) / (2.0 * h);
            let ad = grad.double_value(c);
            assert!(
                (fd - ad).abs() <= 1e-6 * ad.abs().max(1e-3),
                "{n} at {c:?}: autograd {ad} vs finite difference {fd}"
            );
        }
    }
}

/// Issue 12, point 1: WCE's adaptive weight carries gradient, as deep_pipe's does. At a
/// background voxel j the frozen-weight gradient is `p_j / N`; through `pos_w` it gains
/// `-p_j (1 - p_j) A / S^2` (A = the foreground terms' sum, S = sum p). Early in training (most
/// logits well below 0, a small lesion) that term dominates: the background gradient turns
/// negative and is many times larger. The golden test above pins value and gradient to
/// PyTorch's autograd; this one shows what a detach would change.
#[test]
fn r12_wce_gradient_flows_through_pos_weight() {
    tch::manual_seed(12);
    let x = Tensor::randn([2, 1, 16, 16, 16], (Kind::Double, Device::Cpu)) - 5.0;
    let t = Tensor::zeros([2, 1, 16, 16, 16], (Kind::Double, Device::Cpu));
    let _ = t.narrow(2, 4, 4).narrow(3, 4, 4).narrow(4, 4, 4).fill_(1.0);
    let xg = x.detach().set_requires_grad(true);
    iw_losses::wce(&xg, &t, None).unwrap().backward();
    let full = xg.grad();
    let xd = x.detach().set_requires_grad(true);
    let frozen = wce_pos_weight(&xd).unwrap().detach();
    iw_losses::weighted_bce(&xd, &t, None, &frozen).unwrap().backward();
    let detached = xd.grad();
    let bg = t.eq(0.0);
    let (a, b) = (full.masked_select(&bg), detached.masked_select(&bg));
    assert!(b.gt(0.0).all().int64_value(&[]) == 1, "frozen weight: background gradients are p / N > 0");
    assert!(a.lt(0.0).all().int64_value(&[]) == 1, "through pos_w the background gradient changes sign");
    let ratio = (a.abs().mean(Kind::Double) / b.abs().mean(Kind::Double)).double_value(&[]);
    assert!(ratio > 10.0, "and is much larger: {ratio}");
}

#[test]
fn tensor_weights_equal_iw_core_weights() {
    let g = golden();
    for dev in iw_test_support::torch_devices!("tensor_weights_equal_iw_core_weights") {
        for c in CASES {
            let labels = g[&format!("{c}/labels")].shallow_clone();
            for max_label in [None, Some(labels.max().int64_value(&[])), Some(50)] {
                let w = inverse_weights(&labels.to_device(dev), max_label, 1.0, 2e5).unwrap().to_device(Device::Cpu);
                for b in 0..labels.size()[0] {
                    let lab = labels.get(b).get(0);
                    let v: Vec<i64> = Vec::<i64>::try_from(&lab.flatten(0, -1)).unwrap();
                    let s = lab.size();
                    let arr = ndarray::Array3::from_shape_vec(
                        (s[0] as usize, s[1] as usize, s[2] as usize),
                        v.into_iter().map(|l| l as u32).collect(),
                    )
                    .unwrap();
                    let want = iw_core::inverse_weights(arr.view(), iw_core::WeightBounds::default());
                    let ours: Vec<f32> = Vec::<f32>::try_from(&w.get(b).get(0).flatten(0, -1)).unwrap();
                    assert_eq!(
                        ours,
                        want.iter().copied().collect::<Vec<f32>>(),
                        "{c}, sample {b}, max_label {max_label:?}, {dev:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn bad_shapes_and_names_are_clear_errors() {
    let x = Tensor::zeros([2, 1, 4, 4, 4], (Kind::Float, Device::Cpu));
    let t = Tensor::zeros([2, 1, 4, 4, 5], (Kind::Float, Device::Cpu));
    for n in ["bce", "wce", "dl", "gdl", "fl", "asl"] {
        let e = LossConfig::from_name(n)
            .unwrap()
            .compute(&LossInputs { logits: &x, target: &t, labels: None, regions: None, max_label: None })
            .unwrap_err()
            .to_string();
        assert!(e.contains("target shape [2, 1, 4, 4, 5] does not match logits shape [2, 1, 4, 4, 4]"), "{n}: {e}");
    }
    let w = Tensor::ones([2, 1, 4, 4, 3], (Kind::Float, Device::Cpu));
    let e = iw_losses::dice(&x, &x, Some(&w)).unwrap_err().to_string();
    assert!(e.contains("weight shape [2, 1, 4, 4, 3]"), "{e}");
    let e = LossConfig::from_name("iwdl")
        .unwrap()
        .compute(&LossInputs { logits: &x, target: &x, labels: None, regions: None, max_label: None })
        .unwrap_err()
        .to_string();
    assert!(e.contains("needs component labels"), "{e}");
    assert!(LossConfig::from_name("xyz").unwrap_err().to_string().contains("unknown base loss 'xyz'"));
    let labels = Tensor::from_slice(&[0i64, 3, 5, 1]).reshape([1, 4]);
    let e = inverse_weights(&labels, Some(4), 1.0, 2e5).unwrap_err().to_string();
    assert!(e.contains("labels must lie in [0, max_label = 4]"), "{e}");
    for n in iw_losses::PAPER_CONFIGURATIONS {
        assert_eq!(LossConfig::from_name(n).unwrap().name(), n);
    }
}
