//! `prc_records.json` text into `parse_records` (what `iw report` reads from every run).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = iw_metrics::parse_records(std::path::Path::new("<bytes>"), text);
    }
});
