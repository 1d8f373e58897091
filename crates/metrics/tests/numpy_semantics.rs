//! numpy semantics the paper's numbers depend on, against numpy itself through committed
//! fixtures (tests/fixtures/numpy.json, written by tests/golden/numpy_reference.py and kept
//! current by python_references.rs): interp (with repeated abscissae), linspace (bit for bit),
//! median and percentile. numpy's RandomState is iw-core's, tested there.
use iw_metrics::{interp, linspace, percentile_sorted};

fn fixtures() -> serde_json::Value {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/numpy.json");
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))).unwrap()
}

fn floats(v: &serde_json::Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

#[test]
fn linspace_is_bit_identical() {
    for case in fixtures()["linspace"].as_array().unwrap() {
        let (a, b, n) = (case[0].as_f64().unwrap(), case[1].as_f64().unwrap(), case[2].as_u64().unwrap() as usize);
        let ours = linspace(a, b, n);
        let want = case[3].as_array().unwrap();
        assert_eq!(ours.len(), want.len());
        for (i, w) in want.iter().enumerate() {
            assert_eq!(hex(ours[i]), w.as_str().unwrap(), "linspace({a}, {b}, {n})[{i}]");
        }
    }
}

/// Python's float.hex.
fn hex(x: f64) -> String {
    if x == 0.0 {
        return if x.is_sign_negative() { "-0x0.0p+0".into() } else { "0x0.0p+0".into() };
    }
    let bits = x.to_bits();
    let sign = if bits >> 63 == 1 { "-" } else { "" };
    let exp = ((bits >> 52) & 0x7ff) as i64 - 1023;
    let mant = bits & ((1u64 << 52) - 1);
    let m = format!("{mant:013x}");
    format!("{sign}0x1.{m}p{}{exp}", if exp >= 0 { "+" } else { "" })
}

#[test]
fn interp_matches_numpy() {
    let cases = fixtures()["interp"].as_array().unwrap().clone();
    assert!(cases.len() >= 20);
    for c in &cases {
        let (x, xp, fp, want) = (floats(&c["x"]), floats(&c["xp"]), floats(&c["fp"]), floats(&c["want"]));
        for (i, &xi) in x.iter().enumerate() {
            assert_eq!(interp(xi, &xp, &fp), want[i], "x = {xi}, xp = {xp:?}");
        }
    }
}

#[test]
fn median_and_q95_match_numpy() {
    for c in fixtures()["percentile"].as_array().unwrap() {
        let mut s = floats(&c["v"]);
        s.sort_by(f64::total_cmp);
        assert!((percentile_sorted(&s, 50.0) - c["median"].as_f64().unwrap()).abs() < 1e-15);
        assert!((percentile_sorted(&s, 95.0) - c["q95"].as_f64().unwrap()).abs() < 1e-15);
    }
}
