//! The paper's bootstrap over cases, with numpy's legacy `RandomState` bit for bit.
//!
//! `ids` = the sorted case ids (strings); `rng = RandomState(42)`; 50 times: shuffle `ids` in
//! place (the shuffles accumulate) and keep the first `int(0.8 n)`. numpy's legacy generator is
//! MT19937 seeded with `init_genrand(seed)`, and `shuffle` swaps `x[i]` with
//! `x[random_interval(i)]` for `i = n-1 .. 1`, where `random_interval(max)` draws 32-bit words
//! masked to the smallest covering bit mask until one is `<= max`.

pub use iw_core::RandomState;

/// The paper's case subsets: `n_samples` cumulative shuffles of `ids` by `RandomState(seed)`,
/// each cut to its first `int(fraction * n)` ids.
pub fn paper_subsets(ids: &[String], n_samples: usize, fraction: f64, seed: u32) -> Vec<Vec<String>> {
    let mut rng = RandomState::new(seed);
    let mut ids = ids.to_vec();
    let keep = (fraction * ids.len() as f64) as usize;
    (0..n_samples)
        .map(|_| {
            rng.shuffle(&mut ids);
            ids[..keep].to_vec()
        })
        .collect()
}
