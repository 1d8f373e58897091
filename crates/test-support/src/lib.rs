//! Dev-only helpers shared by iw's tests (one copy instead of one per crate).
//!
//! * [`python`], [`run_python`], [`python_json`]: the project's venv (`make setup`), where the
//!   independent references live (numpy, scipy, cc3d, nibabel, pydicom, SimpleITK, PyTorch).
//! * [`python_with`], [`check_json_schema`]: a Python that has a module; a JSON document
//!   checked against a JSON Schema file by Python's `jsonschema`.
//! * [`repo_root`], [`shared`]: the repository and `../shared` beside it (as CI has it).
//! * [`devices`] / [`torch_devices!`]: every device a test body should run on, the CPU and
//!   `cuda:0` where there is one; without CUDA it says so on the test's stderr, uncaptured, so
//!   `make test` shows every `skipped: no CUDA`. (No libtorch here: the macro expands in the
//!   calling crate, so the crates without torch keep building without it.)
#![deny(missing_docs)]
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `../shared` beside the repository (the specification, the paper's records).
pub fn shared() -> PathBuf {
    repo_root().join("../shared")
}

/// The Python of the project's venv (`make setup` creates it); `IW_PYTHON` overrides it.
pub fn python() -> PathBuf {
    if let Ok(p) = std::env::var("IW_PYTHON") {
        return PathBuf::from(p);
    }
    let p = repo_root().join(".venv/bin/python");
    assert!(
        p.exists(),
        "{} is missing: run `make setup` (the tests compare against the Python references it installs)",
        p.display()
    );
    p
}

/// Runs `python SCRIPT ARGS...` and returns its stdout; a failure shows the script's stderr.
pub fn run_python(script: &Path, args: &[&str]) -> String {
    let out = Command::new(python()).arg(script).args(args).output().expect("running python");
    assert!(out.status.success(), "{} {args:?} failed:\n{}", script.display(), String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

/// [`run_python`], its stdout parsed as JSON.
pub fn python_json(script: &Path, args: &[&str]) -> serde_json::Value {
    serde_json::from_str(&run_python(script, args)).expect("the reference prints JSON")
}

/// A Python that imports `module`: the venv's ([`python`]), else `python3` on the PATH, else
/// the system's `/usr/bin/python3`; panics (naming scripts/requirements.txt, which lists it) when
/// none does.
pub fn python_with(module: &str) -> PathBuf {
    let venv = python();
    for p in [venv.clone(), PathBuf::from("python3"), PathBuf::from("/usr/bin/python3")] {
        let ok = Command::new(&p).args(["-c", &format!("import {module}")]).output().is_ok_and(|o| o.status.success());
        if ok {
            return p;
        }
    }
    panic!(
        "neither {} nor python3 (PATH) nor /usr/bin/python3 imports {module}: install scripts/requirements.txt (`make setup`)",
        venv.display()
    );
}

/// Checks `instance` against the JSON Schema (draft 2020-12) file `schema` with Python's
/// `jsonschema`, an independent validator; a violation panics with its message and path.
pub fn check_json_schema(schema: &Path, instance: &serde_json::Value) {
    let py = python_with("jsonschema");
    let code = "import json, sys, jsonschema\n\
schema = json.load(open(sys.argv[1]))\n\
jsonschema.Draft202012Validator.check_schema(schema)\n\
errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(json.load(sys.stdin)), key=lambda e: list(e.path))\n\
for e in errors: print('/'.join(map(str, e.absolute_path)) + ': ' + e.message)\n\
sys.exit(1 if errors else 0)\n";
    let mut child = Command::new(py)
        .args(["-c", code])
        .arg(schema)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("running python");
    child.stdin.take().expect("piped").write_all(instance.to_string().as_bytes()).expect("writing the instance");
    let out = child.wait_with_output().expect("running python");
    assert!(
        out.status.success(),
        "{} does not hold for\n{instance:#}\n{}{}",
        schema.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Writes a line to the test's stderr past libtest's capture (the print macros are captured,
/// a direct write to the handle is not), so that `cargo test` shows it.
pub fn announce(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// The devices a test body runs on: `cpu`, and `cuda` where there is one; without it a visible
/// `<what>: skipped: no CUDA` line. Generic, so that this crate needs no libtorch: libtorch tests
/// call [`torch_devices!`].
pub fn devices<D>(what: &str, cpu: D, cuda: Option<D>) -> Vec<D> {
    let mut v = vec![cpu];
    match cuda {
        Some(d) => v.push(d),
        None => announce(&format!("{what}: skipped: no CUDA (ran on the CPU only)")),
    }
    v
}

/// `torch_devices!("test name")`: [`devices`] with tch's CPU and `cuda:0` (when
/// `tch::Cuda::is_available()`), written out in the calling crate, which links libtorch.
#[macro_export]
macro_rules! torch_devices {
    ($what:expr) => {
        $crate::devices(
            $what,
            ::tch::Device::Cpu,
            if ::tch::Cuda::is_available() { Some(::tch::Device::Cuda(0)) } else { None },
        )
    };
}

/// The one timing helper of the `bench_*` examples (`make bench` runs them beside the Python
/// peers): wall-clock seconds of repeated calls after warm-up calls, medians, one JSON line.
pub mod bench {
    use std::time::Instant;

    /// Seconds of each timed call, in call order.
    #[derive(Debug, Clone, PartialEq)]
    pub struct Timings(pub Vec<f64>);

    /// Runs `f` `warmup` times untimed, then `reps` times timed (its result kept alive through
    /// `black_box`, so the work is not optimised away). A device's work must be synchronised
    /// inside `f`.
    pub fn time<R>(warmup: usize, reps: usize, mut f: impl FnMut() -> R) -> Timings {
        for _ in 0..warmup {
            std::hint::black_box(f());
        }
        Timings(
            (0..reps)
                .map(|_| {
                    let t = Instant::now();
                    std::hint::black_box(f());
                    t.elapsed().as_secs_f64()
                })
                .collect(),
        )
    }

    impl Timings {
        fn sorted(&self) -> Vec<f64> {
            let mut s = self.0.clone();
            s.sort_by(f64::total_cmp);
            s
        }
        /// The median (upper median for an even count), seconds.
        pub fn median(&self) -> f64 {
            let s = self.sorted();
            s[s.len() / 2]
        }
        /// The fastest call, seconds.
        pub fn min(&self) -> f64 {
            self.sorted()[0]
        }
        /// `{"task": .., "median_s": .., "min_s": .., "times_s": [..]}` (the task when given),
        /// the line scripts/bench/run.py reads.
        pub fn json(&self, task: Option<&str>) -> String {
            let list: Vec<String> = self.0.iter().map(|t| format!("{t:.6}")).collect();
            let task = task.map(|t| format!("\"task\": \"{t}\", ")).unwrap_or_default();
            format!(
                "{{{task}\"median_s\": {:.6}, \"min_s\": {:.6}, \"times_s\": [{}]}}",
                self.median(),
                self.min(),
                list.join(", ")
            )
        }
    }
}
