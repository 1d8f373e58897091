//! Where the CLI writes: every output path goes through [`output_path`], which resolves it
//! (the nearest existing ancestor canonicalised, so `./m.nii`, `d/../m.nii`, absolute paths
//! and symbolic links all name one file) and refuses one that is an input: the same canonical
//! path, or the same file (device and inode: hard links). With a root, the output must also
//! lie inside it. What the CLI reads as a mask is checked by [`check_finite_mask`].
use anyhow::{anyhow, bail, Context};
use std::path::{Component, Path, PathBuf};

/// `path` made absolute and canonical as far as it exists (the missing tail is appended as
/// is, `.` dropped; a missing tail with `..` is refused: it could leave the folder).
pub fn resolve(path: &Path) -> anyhow::Result<PathBuf> {
    if let Ok(p) = path.canonicalize() {
        return Ok(p);
    }
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().context("the current folder")?.join(path)
    };
    let mut base = abs.as_path();
    let mut tail = Vec::new();
    loop {
        if let Ok(b) = base.canonicalize() {
            let mut out = b;
            for part in tail.iter().rev() {
                out.push(part);
            }
            return Ok(out);
        }
        let name = base.file_name().ok_or_else(|| anyhow!("{}: no existing folder above it", path.display()))?;
        tail.push(name.to_os_string());
        base = base.parent().ok_or_else(|| anyhow!("{}: no existing folder above it", path.display()))?;
        if Path::new(name).components().any(|c| matches!(c, Component::ParentDir)) {
            bail!("{}: '..' below a folder that does not exist", path.display());
        }
    }
}

#[cfg(unix)]
fn identity(p: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn identity(_: &Path) -> Option<(u64, u64)> {
    None
}

/// Resolves the output `out` (see the module) and checks that it is none of `inputs` and, with
/// a `root`, that it lies inside `root`. Returns the resolved path to write.
pub fn output_path(out: &Path, inputs: &[&Path], root: Option<&Path>) -> anyhow::Result<PathBuf> {
    let resolved = resolve(out)?;
    let id = identity(&resolved);
    for input in inputs {
        let same_path = resolve(input).map(|i| i == resolved).unwrap_or(false);
        let same_file = id.is_some() && identity(input) == id;
        if same_path || same_file {
            bail!("{}: the output is the input {} (it would be overwritten)", out.display(), input.display());
        }
    }
    // A MetaImage or NRRD header's data file: writing `o.mhd` writes `o.raw` (`o.nhdr`:
    // `o.raw.gz`), which may be the data file of an input header (or an input itself).
    for written in iw_io::data_files(&resolved) {
        let (w, wid) = (resolve(&written)?, identity(&written));
        for input in inputs {
            let read = std::iter::once(input.to_path_buf()).chain(iw_io::data_files(input));
            for r in read {
                let same = resolve(&r).map(|p| p == w).unwrap_or(false) || (wid.is_some() && identity(&r) == wid);
                if same {
                    bail!(
                        "{}: writing it would overwrite {} (the data of the input {})",
                        out.display(),
                        r.display(),
                        input.display()
                    );
                }
            }
        }
    }
    if let Some(root) = root {
        let r = resolve(root)?;
        if !resolved.starts_with(&r) {
            bail!("{}: outside {}", out.display(), root.display());
        }
    }
    Ok(resolved)
}

/// The mask rule (README, Conventions): a mask voxel is lesion when it is non-zero; a NaN or
/// infinite voxel in a mask is an error naming the file (it is neither lesion nor background).
pub fn check_finite_mask(v: &iw_core::DynVolume, path: &Path) -> anyhow::Result<()> {
    if v.dtype().is_float() {
        let bad = v.to_f64().data.iter().filter(|x| !x.is_finite()).count();
        if bad > 0 {
            bail!("{}: {bad} non-finite (NaN or infinite) voxel(s) in a mask", path.display());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_and_links_of_an_input_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let m = d.path().join("m.nii");
        std::fs::write(&m, b"x").unwrap();
        std::fs::create_dir(d.path().join("d")).unwrap();
        let dotdot = d.path().join("d/../m.nii");
        let dot = d.path().join("./m.nii");
        std::os::unix::fs::symlink(&m, d.path().join("sym.nii")).unwrap();
        std::fs::hard_link(&m, d.path().join("hard.nii")).unwrap();
        for out in [m.clone(), dotdot, dot, d.path().join("sym.nii"), d.path().join("hard.nii")] {
            let e = output_path(&out, &[&m], None).unwrap_err().to_string();
            assert!(e.contains("the output is the input"), "{}: {e}", out.display());
        }
        let fresh = output_path(&d.path().join("new/x.nii"), &[&m], Some(d.path())).unwrap();
        assert!(fresh.ends_with("new/x.nii"));
        assert!(output_path(&d.path().join("new/../../x.nii"), &[], None).is_err());
        let outside = output_path(&d.path().join("../elsewhere.nii"), &[], Some(&d.path().join("d")));
        assert!(outside.unwrap_err().to_string().contains("outside"));
    }

    #[test]
    fn a_metaimage_output_never_overwrites_an_input_s_data_file() {
        let d = tempfile::tempdir().unwrap();
        // in.mhd keeps its voxels in b.raw; writing b.mhd would write b.raw.
        std::fs::write(
            d.path().join("in.mhd"),
            "NDims = 3\nDimSize = 1 1 1\nElementType = MET_UCHAR\nElementDataFile = b.raw\n",
        )
        .unwrap();
        std::fs::write(d.path().join("b.raw"), [1u8]).unwrap();
        let input = d.path().join("in.mhd");
        let e = output_path(&d.path().join("b.mhd"), &[&input], None).unwrap_err().to_string();
        assert!(e.contains("would overwrite") && e.contains("b.raw"), "{e}");
        // The raw file given as the input itself.
        let raw = d.path().join("b.raw");
        assert!(output_path(&d.path().join("b.mhd"), &[&raw], None).is_err());
        // A .mhd beside an unrelated input is fine; so is a .nii.
        output_path(&d.path().join("c.mhd"), &[&input], None).unwrap();
        output_path(&d.path().join("b.nii"), &[&input], None).unwrap();
    }
}
