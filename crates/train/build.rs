//! See crates/build-support/torch_link.rs.
include!("../build-support/torch_link.rs");

fn main() {
    link_torch();
}
