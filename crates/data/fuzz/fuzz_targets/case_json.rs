//! A prepared case's `case.json` into `parse_case_meta` (the metadata `PreparedCase::open` trusts
//! for the lengths of its memory-mapped arrays).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(meta) = iw_data::prepared::parse_case_meta(std::path::Path::new("<bytes>"), text) {
            // What `open` computes from an accepted case.json must not overflow.
            let _ = 4 * meta.voxels() * meta.channels.max(1);
            let _ = 4 * meta.components.iter().map(|c| c.voxels).sum::<u64>();
        }
    }
});
