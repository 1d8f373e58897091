//! DICOM file bytes (with or without the preamble) into the single-file reader: meta group,
//! data set, pixel data checks and decoders.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = iw_io::dicom::read_bytes(data);
});
