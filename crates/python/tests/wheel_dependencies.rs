//! Issue 20: the wheel links iw-core and iw-metrics only: no libtorch (tch, torch-sys) and no
//! plotters (iw-metrics' `figures` feature is off for this crate). `cargo tree` resolves the
//! crate's features on their own, as maturin's build of the wheel does.
use std::process::Command;

#[test]
fn the_wheel_links_neither_libtorch_nor_plotters() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["tree", "-p", "iw-python", "-e", "normal", "--prefix", "none", "--offline"])
        .output()
        .expect("running cargo tree");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let tree = String::from_utf8_lossy(&out.stdout);
    let names: Vec<&str> = tree.lines().filter_map(|l| l.split_whitespace().next()).collect();
    assert!(names.contains(&"iw-metrics") && names.contains(&"iw-core"), "{tree}");
    for banned in ["tch", "torch-sys", "plotters", "iw-models", "iw-losses"] {
        assert!(!names.contains(&banned), "{banned} in the wheel's dependencies:\n{tree}");
    }
}
