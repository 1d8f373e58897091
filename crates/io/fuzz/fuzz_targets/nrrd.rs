//! NRRD bytes: the input is the header, with attached data after it or, for a detached data
//! file (`data file:`), the same bytes again as that file's content (one input exercises both).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = iw_io::nrrd::read_bytes(data, Some(data));
});
