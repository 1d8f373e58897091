//! See crates/build-support/torch_link.rs: the version variables only (this crate links no
//! libtorch).
include!("../build-support/torch_link.rs");

fn main() {
    emit_versions();
}
