//! `.nii` bytes into the NIfTI-1 reader: any input is an `Ok` volume or an error, never a panic,
//! an abort or an allocation beyond what the input's length justifies.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = iw_io::nifti::read_bytes(data, false);
});
