//! numpy semantics the paper's numbers depend on, checked against numpy itself: the legacy
//! RandomState shuffle, interp (with repeated abscissae), linspace, median and percentile.
mod common;
use common::numpy;
use iw_metrics::{interp, linspace, percentile_sorted, RandomState};
use proptest::prelude::*;

#[test]
fn random_state_shuffle_matches_numpy() {
    for n in [1usize, 2, 3, 5, 28, 159, 1000] {
        let want = numpy(&["random-state", "42", &n.to_string(), "50"]);
        let mut rng = RandomState::new(42);
        let mut x: Vec<u64> = (0..n as u64).collect();
        for (k, w) in want.as_array().unwrap().iter().enumerate() {
            rng.shuffle(&mut x);
            let w: Vec<u64> = w.as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
            assert_eq!(x, w, "n = {n}, shuffle {k}");
        }
    }
    let want = numpy(&["random-state", "7", "10", "3"]);
    let mut rng = RandomState::new(7);
    let mut x: Vec<u64> = (0..10).collect();
    for w in want.as_array().unwrap() {
        rng.shuffle(&mut x);
        assert_eq!(serde_json::json!(x), *w);
    }
}

#[test]
fn linspace_is_bit_identical() {
    for (a, b, n) in
        [(-0.1, 10.0, 101usize), (10.0, 13.7177734375, 100), (0.0, 5.0, 501), (10.0, 11.0, 100), (3.0, 3.0, 5)]
    {
        let want = numpy(&["linspace", &a.to_string(), &b.to_string(), &n.to_string()]);
        let ours = linspace(a, b, n);
        for (i, w) in want.as_array().unwrap().iter().enumerate() {
            let w = w.as_str().unwrap();
            assert_eq!(hex(ours[i]), w, "linspace({a}, {b}, {n})[{i}]");
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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn interp_matches_numpy(steps in prop::collection::vec(0u8..3, 2..12), ys in prop::collection::vec(0.0f64..1.0, 12), xs in prop::collection::vec(-1.0f64..8.0, 1..20)) {
        // Non-decreasing abscissae with repeats (step 0), like a FROC's avgFP.
        let mut xp = vec![0.0];
        for s in &steps { let last = *xp.last().unwrap(); xp.push(last + *s as f64 * 0.5); }
        let fp: Vec<f64> = ys[..xp.len()].to_vec();
        let mut xs = xs.clone();
        xs.extend(xp.iter().copied()); // exactly on the knots, repeats included
        let arg = serde_json::json!({"x": xs, "xp": xp, "fp": fp}).to_string();
        let want = numpy(&["interp", &arg]);
        for (i, &x) in xs.iter().enumerate() {
            prop_assert_eq!(interp(x, &xp, &fp), want[i].as_f64().unwrap(), "x = {}", x);
        }
    }
}

#[test]
fn median_and_q95_match_numpy() {
    let cases: Vec<Vec<f64>> = vec![
        vec![0.7],
        vec![0.6, 0.9],
        vec![0.51, 0.6, 0.75, 0.9, 0.99],
        (0..37).map(|i| 0.5 + (i * 7 % 37) as f64 / 80.0).collect(),
    ];
    let want = numpy(&["percentile", &serde_json::json!(cases).to_string()]);
    for (c, w) in cases.iter().zip(want.as_array().unwrap()) {
        let mut s = c.clone();
        s.sort_by(f64::total_cmp);
        assert!((percentile_sorted(&s, 50.0) - w[0].as_f64().unwrap()).abs() < 1e-15);
        assert!((percentile_sorted(&s, 95.0) - w[1].as_f64().unwrap()).abs() < 1e-15);
    }
}
