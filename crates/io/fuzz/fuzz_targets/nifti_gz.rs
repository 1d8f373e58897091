//! `.nii.gz` bytes into the NIfTI-1 reader (gzip framing, CRC and ISIZE, the declared size
//! against the deflate bound). Seeds are gzip files, so the fuzzer starts past the gzip header.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = iw_io::nifti::read_bytes(data, true);
});
