//! The committed numpy fixtures are what numpy gives today, and interp agrees with numpy on
//! random FROC-like inputs beyond the fixtures (the slow tier: needs the venv; `make test` runs
//! it, `make test-fast` does not). `IW_UPDATE_FIXTURES=1` rewrites the fixtures.
mod common;
use iw_metrics::interp;
use proptest::prelude::*;

#[test]
fn fixtures_are_current() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("numpy.json");
    common::numpy_raw(&["fixtures", out.to_str().unwrap()]);
    let fresh = std::fs::read_to_string(&out).unwrap();
    let committed_path = common::crate_dir().join("tests/fixtures/numpy.json");
    if std::env::var("IW_UPDATE_FIXTURES").is_ok_and(|v| v == "1") {
        std::fs::write(&committed_path, &fresh).unwrap();
    }
    let committed = std::fs::read_to_string(&committed_path).unwrap();
    let (a, b): (serde_json::Value, serde_json::Value) =
        (serde_json::from_str(&fresh).unwrap(), serde_json::from_str(&committed).unwrap());
    for key in ["linspace", "interp", "percentile"] {
        assert_eq!(a[key], b[key], "{key}: {} differs from numpy today", committed_path.display());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn interp_matches_numpy_live(steps in prop::collection::vec(0u8..3, 2..12), ys in prop::collection::vec(0.0f64..1.0, 12), xs in prop::collection::vec(-1.0f64..8.0, 1..20)) {
        // Non-decreasing abscissae with repeats (step 0), like a FROC's avgFP.
        let mut xp = vec![0.0];
        for s in &steps { let last = *xp.last().unwrap(); xp.push(last + *s as f64 * 0.5); }
        let fp: Vec<f64> = ys[..xp.len()].to_vec();
        let mut xs = xs.clone();
        xs.extend(xp.iter().copied()); // exactly on the knots, repeats included
        let arg = serde_json::json!({"x": xs, "xp": xp, "fp": fp}).to_string();
        let want = common::numpy(&["interp", &arg]);
        for (i, &x) in xs.iter().enumerate() {
            prop_assert_eq!(interp(x, &xp, &fp), want[i].as_f64().unwrap(), "x = {}", x);
        }
    }
}
