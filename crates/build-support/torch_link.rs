// Shared by the build scripts (`include!`d). `link_torch`, for the crates that link libtorch:
// link it so that binaries and test executables run with no environment variable set.
// `emit_versions`, for iw-runner (the torch-free `iw`): only the version variables.
//
// torch-sys finds libtorch in the Python environment (`LIBTORCH_USE_PYTORCH=1`); we add an rpath
// to that `torch/lib` folder and force `libtorch_cuda` into the link with `--no-as-needed`
// (otherwise the linker drops it, since no symbol is referenced directly, and
// `tch::Cuda::is_available()` is false even on a GPU machine: the known tch pitfall).
use std::path::PathBuf;
use std::process::Command;

#[allow(dead_code)]
fn torch_lib_dir() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("LIBTORCH") {
        return Some(PathBuf::from(dir).join("lib"));
    }
    let python = std::env::var("PYTHON_SYS_EXECUTABLE").unwrap_or_else(|_| "python3".into());
    let out = Command::new(python)
        .args(["-c", "import os, torch; print(os.path.join(os.path.dirname(torch.__file__), 'lib'))"])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    Some(PathBuf::from(String::from_utf8(out.stdout).ok()?.trim()))
}

fn torch_version() -> Option<String> {
    let python = std::env::var("PYTHON_SYS_EXECUTABLE").unwrap_or_else(|_| "python3".into());
    let out = Command::new(python).args(["-c", "import torch; print(torch.__version__)"]).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Rebuild when the checked-out commit changes (HEAD and the branch it points to).
fn watch_git() {
    let Ok(out) = Command::new("git").args(["rev-parse", "--git-dir"]).output() else { return };
    let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let head = dir.join("HEAD");
    println!("cargo:rerun-if-changed={}", head.display());
    if let Ok(text) = std::fs::read_to_string(&head) {
        if let Some(r) = text.trim().strip_prefix("ref: ") {
            println!("cargo:rerun-if-changed={}", dir.join(r).display());
        }
    }
}

fn git_revision() -> Option<String> {
    let out = Command::new("git").args(["rev-parse", "--short=12", "HEAD"]).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Emits the version variables: `IW_TORCH_VERSION` (the libtorch the build environment holds,
/// which `iw-torch` links) and `IW_GIT_REVISION`. Links nothing.
#[allow(dead_code)] // each build script uses one of the two entry points
pub fn emit_versions() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    println!("cargo:rerun-if-env-changed=PYTHON_SYS_EXECUTABLE");
    println!("cargo:rustc-env=IW_TORCH_VERSION={}", torch_version().unwrap_or_else(|| "unknown".into()));
    println!("cargo:rustc-env=IW_GIT_REVISION={}", git_revision().unwrap_or_else(|| "unknown".into()));
    watch_git();
}

/// Emits the link arguments (rpath, torch_cuda) and the version variables.
#[allow(dead_code)]
pub fn link_torch() {
    emit_versions();
    let Some(lib) = torch_lib_dir() else {
        println!("cargo:warning=could not locate torch/lib; the iw binary will need LD_LIBRARY_PATH");
        return;
    };
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    if lib.join("libtorch_cuda.so").exists() {
        println!("cargo:rustc-link-search=native={}", lib.display());
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
        println!("cargo:rustc-link-arg=-ltorch_cuda");
        println!("cargo:rustc-link-arg=-Wl,--as-needed");
    }
}
