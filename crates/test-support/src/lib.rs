//! Dev-only helpers shared by iw's tests (one copy instead of one per crate).
//!
//! * [`python`], [`run_python`], [`python_json`]: the project's venv (`make setup`), where the
//!   independent references live (numpy, scipy, cc3d, nibabel, pydicom, SimpleITK, PyTorch).
//! * [`python_with`], [`check_json_schema`]: a Python that has a module; a JSON document
//!   checked against a JSON Schema file by Python's `jsonschema`.
//! * [`repo_root`], [`shared`]: the repository and `../shared` beside it (as CI has it);
//!   [`pyradiomics_scan`]: the real scans `make setup` fetches.
//! * [`cli`]: the `iw` binary under test ([`cli::Iw`], also under a `ulimit -v` address-space
//!   limit, and the smallest such limit it starts under) and the checks of its output
//!   ([`cli::ok`], [`cli::err`], [`cli::text`]).
//! * [`devices`] / [`torch_devices!`]: every device a test body should run on, the CPU and
//!   `cuda:0` where there is one; without CUDA it says so on the test's stderr, uncaptured, so
//!   `make test` shows every `skipped: no CUDA`. (No libtorch here: the macro expands in the
//!   calling crate, so the crates without torch keep building without it.)
#![deny(missing_docs)]
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root (canonical: no `..` in it).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("the repository root exists")
}

/// `../shared` beside the repository (the specification, the paper's records).
pub fn shared() -> PathBuf {
    repo_root().join("../shared")
}

/// A scan of pyradiomics 3.1.0's test data (`<name>.nrrd`: brain1_image, lung1_label, ...),
/// fetched by `make setup` (scripts/fetch_pyradiomics.sh) into test-data/; a missing one fails
/// the test, naming the fix.
pub fn pyradiomics_scan(name: &str) -> PathBuf {
    let p = repo_root().join("test-data/pyradiomics-3.1.0").join(format!("{name}.nrrd"));
    assert!(p.is_file(), "{} is missing: run `make setup` (or scripts/fetch_pyradiomics.sh)", p.display());
    p
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

/// The `iw` binary end to end: running it (from the repository root, in a folder, under an
/// address-space limit) and reading its output. `CARGO_BIN_EXE_iw` is known only to the tests of
/// the crate that builds `iw`, so they name it: `Iw::new(env!("CARGO_BIN_EXE_iw"))`.
pub mod cli {
    use std::ffi::OsStr;
    use std::path::{Path, PathBuf};
    use std::process::{Command, Output};

    /// The `iw` binary and the folder it runs in.
    #[derive(Debug, Clone)]
    pub struct Iw {
        exe: PathBuf,
        dir: Option<PathBuf>,
    }

    /// Address-space limits tried by [`Iw::smallest_limit_kib`], GiB (coarse: a probe is a
    /// process start).
    const LIMIT_LADDER_GIB: [f64; 15] =
        [0.125, 0.25, 0.5, 1.0, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0, 6.0, 8.0, 12.0, 16.0, 32.0];

    impl Iw {
        /// The binary at `exe`, run in the test's own working folder (its crate's folder).
        pub fn new(exe: impl Into<PathBuf>) -> Iw {
            Iw { exe: exe.into(), dir: None }
        }

        /// Run from the repository root ([`crate::repo_root`]), where `experiments/` resolves.
        pub fn in_repo(self) -> Iw {
            self.in_dir(crate::repo_root())
        }

        /// Run from `dir`.
        pub fn in_dir(self, dir: impl Into<PathBuf>) -> Iw {
            Iw { dir: Some(dir.into()), ..self }
        }

        /// The binary's path.
        pub fn exe(&self) -> &Path {
            &self.exe
        }

        /// A command of the binary in its folder, to add arguments, environment or pipes to.
        pub fn command(&self) -> Command {
            let mut c = Command::new(&self.exe);
            if let Some(d) = &self.dir {
                c.current_dir(d);
            }
            c
        }

        /// `iw ARGS`, its output once it has ended.
        pub fn run<S: AsRef<OsStr>>(&self, args: &[S]) -> Output {
            self.command().args(args).output().expect("running iw")
        }

        /// `iw ARGS` under `ulimit -v limit_kib` (bash's, then `exec`: the same process).
        pub fn run_limited<S: AsRef<OsStr>>(&self, args: &[S], limit_kib: u64) -> Output {
            let mut c = Command::new("bash");
            if let Some(d) = &self.dir {
                c.current_dir(d);
            }
            c.arg("-c")
                .arg(format!("ulimit -v {limit_kib} && exec \"$0\" \"$@\""))
                .arg(&self.exe)
                .args(args)
                .output()
                .expect("running bash")
        }

        /// The smallest address-space limit, KiB, on a coarse ladder (1/8 GiB to 32 GiB) under
        /// which `iw PROBE...` succeeds; panics when none does.
        pub fn smallest_limit_kib<S: AsRef<OsStr> + std::fmt::Debug>(&self, probe: &[S]) -> u64 {
            LIMIT_LADDER_GIB
                .iter()
                .map(|g| (g * 1024.0 * 1024.0) as u64)
                .find(|&kib| self.run_limited(probe, kib).status.success())
                .unwrap_or_else(|| panic!("iw {probe:?} does not run even with 32 GiB of address space"))
        }
    }

    /// The process's stdout, lossily decoded.
    pub fn stdout(o: &Output) -> String {
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// The process's stderr, lossily decoded.
    pub fn stderr(o: &Output) -> String {
        String::from_utf8_lossy(&o.stderr).into_owned()
    }

    /// Both streams, labelled, for a failure message.
    pub fn text(o: &Output) -> String {
        format!("stdout:\n{}\nstderr:\n{}", stdout(o), stderr(o))
    }

    /// The stdout of a process that succeeded; panics with both streams otherwise.
    pub fn ok(o: &Output) -> String {
        assert!(o.status.success(), "{}", text(o));
        stdout(o)
    }

    /// The stderr of a process that failed with exit code 2 (bad input); panics otherwise.
    pub fn err(o: &Output) -> String {
        assert!(!o.status.success(), "expected a failure: {}", stdout(o));
        assert_eq!(o.status.code(), Some(2));
        stderr(o)
    }

    /// A path as the `&str` argument of a command (test paths are UTF-8).
    pub fn p(path: &Path) -> &str {
        path.to_str().expect("a UTF-8 path")
    }

    /// A text file's contents; panics naming the file.
    pub fn read(path: &Path) -> String {
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// A JSON file, parsed; panics naming the file.
    pub fn json(path: &Path) -> serde_json::Value {
        serde_json::from_str(&read(path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }
}
