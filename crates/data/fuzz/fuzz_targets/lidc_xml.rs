//! LIDC-IDRI reader XML (`tcia-lidc-xml/*.xml`) into `parse_lidc_xml`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = iw_data::lidc::parse_lidc_xml(text, std::path::Path::new("<bytes>"));
    }
});
