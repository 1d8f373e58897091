//! The smoke reproduction's outputs are byte for byte what they were when the golden hashes were
//! recorded (crates/runner/tests/golden/smoke_reproduce.sha256, before the run's code moved into
//! its own crate, issue 28): report.json, table.csv and every run's prc_records.json of
//! `iw reproduce lits --scale smoke --only dl,iwdl --seeds 1`. A restructure must not move a byte;
//! a change that means to change these outputs records new hashes in the same commit and says why
//! (`sha256sum` of the files, paths relative to the --out and --work folders, as below).
//!
//! The training is seeded and single-threaded, so the bytes are stable on one machine; another CPU
//! (a different SIMD path in libtorch) may round differently.
use sha2::{Digest, Sha256};
use std::path::Path;
use std::process::Command;

fn sha256(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn smoke_reproduction_is_byte_identical_to_the_recorded_outputs() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let tmp = tempfile::tempdir().unwrap();
    let (work, out) = (tmp.path().join("work"), tmp.path().join("out"));
    let o = Command::new(env!("CARGO_BIN_EXE_iw"))
        .args(["reproduce", "lits", "--scale", "smoke", "--only", "dl,iwdl", "--seeds", "1", "--work"])
        .arg(&work)
        .arg("--out")
        .arg(&out)
        .current_dir(&repo)
        .output()
        .expect("running iw");
    assert!(o.status.success(), "{}\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    let golden_path = repo.join("crates/runner/tests/golden/smoke_reproduce.sha256");
    let golden = std::fs::read_to_string(&golden_path).unwrap();
    let mut checked = 0;
    let mut wrong = Vec::new();
    for line in golden.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')) {
        let (want, rel) =
            line.split_once("  ").unwrap_or_else(|| panic!("{}: bad line {line:?}", golden_path.display()));
        let (root, rel) = rel.split_once('/').unwrap();
        let path = match root {
            "out" => out.join(rel),
            "work" => work.join(rel),
            other => panic!("{}: unknown root {other}", golden_path.display()),
        };
        let got = sha256(&path);
        if got != want {
            wrong.push(format!("{got}  {root}/{rel}"));
        }
        checked += 1;
    }
    assert_eq!(checked, 4, "the golden file names report.json, table.csv and two runs' records");
    assert!(wrong.is_empty(), "outputs changed (new hashes):\n{}", wrong.join("\n"));
}
