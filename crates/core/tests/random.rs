//! numpy's legacy RandomState, bit for bit, against the committed fixtures (numpy's shuffles,
//! stored as hashes after every call and the final array; one permutation).
mod common;
use common::*;
use iw_core::RandomState;

#[test]
fn shuffles_match_numpy() {
    let fx = fixtures();
    for case in fx["random_state_shuffles"].as_array().unwrap() {
        let (seed, n) = (case["seed"].as_u64().unwrap() as u32, case["n"].as_u64().unwrap());
        let mut rng = RandomState::new(seed);
        let mut x: Vec<u32> = (0..n as u32).collect();
        for (k, h) in case["hashes"].as_array().unwrap().iter().enumerate() {
            rng.shuffle(&mut x);
            assert_eq!(fnv64(x.iter().copied()), h.as_str().unwrap(), "seed {seed}, n = {n}, shuffle {k}");
        }
        let last: Vec<u32> = case["last"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
        assert_eq!(x, last, "seed {seed}, n = {n}");
    }
}

#[test]
fn permutation_matches_numpy() {
    let want: Vec<usize> = fixtures()["random_state_permutation_195939070_20"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    assert_eq!(RandomState::new(195939070).permutation(20), want);
}
