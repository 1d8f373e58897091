//! MetaImage bytes: the input is the header, with LOCAL data after it or, for a detached data
//! file, the same bytes again as that file's content (one input exercises both paths).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = iw_io::metaimage::read_bytes(data, Some(data));
});
