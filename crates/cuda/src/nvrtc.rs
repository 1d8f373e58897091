//! NVRTC, the CUDA runtime compiler, opened at run time.
//!
//! Where libnvrtc is looked for, first hit wins:
//!
//! 1. `IW_NVRTC`, a path to the library (an error if it does not open);
//! 2. beside the libtorch this process links: the CUDA wheels of PyTorch install it as
//!    `site-packages/nvidia/<cuXX|cuda_nvrtc>/lib/libnvrtc.so.*`, next to `site-packages/torch/lib`
//!    (found through `/proc/self/maps`), and some builds bundle it in `torch/lib` itself;
//! 3. the system's loader: `libnvrtc.so`, `libnvrtc.so.13`, `.so.12`.
//!
//! Compiling needs no GPU: [`compile`] turns CUDA C into PTX (`compute_XY`, loadable by any
//! driver of that CUDA major or newer, JIT-compiled for the card) or a CUBIN (`sm_XY`, exactly
//! that architecture). CI compiles every kernel of [`crate::KERNELS`] this way.
use crate::error::{Error, Result};
use libloading::{Library, Symbol};
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

type NvrtcResult = c_int;
type Program = *mut c_void;

/// What [`compile`] produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// PTX for the virtual architecture `compute_<N>` (N = 10 major + minor, e.g. 90).
    Ptx(u32),
    /// A CUBIN for the real architecture `sm_<N>`.
    Cubin(u32),
}

impl Target {
    /// `compute_90`, `sm_90`.
    pub fn arch(self) -> String {
        match self {
            Target::Ptx(n) => format!("compute_{n}"),
            Target::Cubin(n) => format!("sm_{n}"),
        }
    }
}

/// An opened libnvrtc.
pub struct Nvrtc {
    lib: Library,
    /// The file it was opened from (or the soname the loader resolved).
    pub path: PathBuf,
}

static NVRTC: OnceLock<std::result::Result<Nvrtc, String>> = OnceLock::new();

/// The process's libnvrtc, opened once.
pub fn nvrtc() -> Result<&'static Nvrtc> {
    NVRTC.get_or_init(Nvrtc::open).as_ref().map_err(|e| Error::NoNvrtc(e.clone()))
}

/// The folder of the libtorch this process has mapped (`.../torch/lib`), if any.
pub fn libtorch_dir() -> Option<PathBuf> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines().filter_map(|l| l.split_whitespace().nth(5)).find_map(|p| {
        let name = Path::new(p).file_name()?.to_str()?;
        (name.starts_with("libtorch_cpu.so") || name.starts_with("libc10.so"))
            .then(|| Path::new(p).parent())?
            .map(Into::into)
    })
}

/// Files named `libnvrtc.so*` (not the builtins, not the `.alt` variant) in `dir`.
fn nvrtc_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            n.starts_with("libnvrtc") && n.contains(".so") && !n.contains("builtins") && !n.contains(".alt.")
        })
        .collect();
    v.sort();
    v
}

/// The places of step 2 above, for a libtorch folder.
fn candidates_near(torch_lib: &Path) -> Vec<PathBuf> {
    let mut out = nvrtc_files(torch_lib);
    if let Some(site) = torch_lib.parent().and_then(Path::parent) {
        let nvidia = site.join("nvidia");
        let mut subs: Vec<PathBuf> =
            std::fs::read_dir(&nvidia).into_iter().flatten().flatten().map(|e| e.path().join("lib")).collect();
        subs.sort();
        for s in subs {
            out.extend(nvrtc_files(&s));
        }
    }
    out
}

impl Nvrtc {
    fn open() -> std::result::Result<Nvrtc, String> {
        // SAFETY (all `Library::new` below): loading libnvrtc runs its initialisers, which
        // have no preconditions.
        if let Some(p) = std::env::var_os("IW_NVRTC") {
            let path = PathBuf::from(p);
            let lib = unsafe { Library::new(&path) }.map_err(|e| format!("IW_NVRTC={}: {e}", path.display()))?;
            return Ok(Nvrtc { lib, path });
        }
        let mut tried = Vec::new();
        if let Some(dir) = libtorch_dir() {
            for path in candidates_near(&dir) {
                match unsafe { Library::new(&path) } {
                    Ok(lib) => return Ok(Nvrtc { lib, path }),
                    Err(e) => tried.push(format!("{}: {e}", path.display())),
                }
            }
            tried.push(format!("nothing usable beside {}", dir.display()));
        } else {
            tried.push("no libtorch mapped in this process".into());
        }
        for soname in ["libnvrtc.so", "libnvrtc.so.13", "libnvrtc.so.12"] {
            if let Ok(lib) = unsafe { Library::new(soname) } {
                return Ok(Nvrtc { lib, path: soname.into() });
            }
        }
        tried.push("not on the system loader's path (libnvrtc.so, .so.13, .so.12)".into());
        Err(format!("{} (set IW_NVRTC to the library)", tried.join("; ")))
    }

    fn sym<T>(&self, name: &[u8]) -> Result<Symbol<'_, T>> {
        // SAFETY: each call site names the symbol's C signature as `T`, from nvrtc.h.
        unsafe { self.lib.get(name) }
            .map_err(|e| Error::NoNvrtc(format!("{}: {}: {e}", self.path.display(), String::from_utf8_lossy(name))))
    }

    fn error_string(&self, r: NvrtcResult) -> String {
        match self.sym::<unsafe extern "C" fn(NvrtcResult) -> *const c_char>(b"nvrtcGetErrorString\0") {
            // SAFETY: nvrtcGetErrorString returns a static NUL-terminated string.
            Ok(f) => unsafe { CStr::from_ptr(f(r)) }.to_string_lossy().into_owned(),
            Err(_) => format!("NVRTC error {r}"),
        }
    }

    /// NVRTC's version, `(major, minor)`.
    pub fn version(&self) -> Result<(i32, i32)> {
        let f = self.sym::<unsafe extern "C" fn(*mut c_int, *mut c_int) -> NvrtcResult>(b"nvrtcVersion\0")?;
        let (mut a, mut b) = (0, 0);
        // SAFETY: two valid out-pointers.
        let r = unsafe { f(&mut a, &mut b) };
        if r != 0 {
            return Err(Error::NoNvrtc(self.error_string(r)));
        }
        Ok((a, b))
    }

    /// The real architectures this NVRTC can target (`[75, 80, 86, 89, 90, ...]`).
    pub fn supported_archs(&self) -> Result<Vec<u32>> {
        let n_f = self.sym::<unsafe extern "C" fn(*mut c_int) -> NvrtcResult>(b"nvrtcGetNumSupportedArchs\0")?;
        let a_f = self.sym::<unsafe extern "C" fn(*mut c_int) -> NvrtcResult>(b"nvrtcGetSupportedArchs\0")?;
        let mut n = 0;
        // SAFETY: a valid out-pointer, then a buffer of the size NVRTC gave.
        let r = unsafe { n_f(&mut n) };
        if r != 0 || !(0..=1024).contains(&n) {
            return Err(Error::NoNvrtc(self.error_string(r)));
        }
        let mut v = vec![0 as c_int; n as usize];
        let r = unsafe { a_f(v.as_mut_ptr()) };
        if r != 0 {
            return Err(Error::NoNvrtc(self.error_string(r)));
        }
        Ok(v.into_iter().map(|a| a as u32).collect())
    }
}

/// Compiles CUDA C `source` (its name `name`, shown in errors) for `target`; returns the PTX
/// text (NUL-terminated, as cuModuleLoadData wants it) or the CUBIN image.
pub fn compile(name: &str, source: &str, target: Target) -> Result<Vec<u8>> {
    let nv = nvrtc()?;
    let err = |log: String| Error::Compile { kernel: name.into(), arch: target.arch(), log };
    let create = nv.sym::<unsafe extern "C" fn(
        *mut Program,
        *const c_char,
        *const c_char,
        c_int,
        *const *const c_char,
        *const *const c_char,
    ) -> NvrtcResult>(b"nvrtcCreateProgram\0")?;
    let compile_f =
        nv.sym::<unsafe extern "C" fn(Program, c_int, *const *const c_char) -> NvrtcResult>(b"nvrtcCompileProgram\0")?;
    let log_size = nv.sym::<unsafe extern "C" fn(Program, *mut usize) -> NvrtcResult>(b"nvrtcGetProgramLogSize\0")?;
    let log_f = nv.sym::<unsafe extern "C" fn(Program, *mut c_char) -> NvrtcResult>(b"nvrtcGetProgramLog\0")?;
    let (size_name, get_name): (&[u8], &[u8]) = match target {
        Target::Ptx(_) => (b"nvrtcGetPTXSize\0", b"nvrtcGetPTX\0"),
        Target::Cubin(_) => (b"nvrtcGetCUBINSize\0", b"nvrtcGetCUBIN\0"),
    };
    let out_size = nv.sym::<unsafe extern "C" fn(Program, *mut usize) -> NvrtcResult>(size_name)?;
    let out_f = nv.sym::<unsafe extern "C" fn(Program, *mut c_char) -> NvrtcResult>(get_name)?;
    let destroy = nv.sym::<unsafe extern "C" fn(*mut Program) -> NvrtcResult>(b"nvrtcDestroyProgram\0")?;

    let src = CString::new(source).map_err(|_| err("the source contains a NUL byte".into()))?;
    let cname = CString::new(name).map_err(|_| err("the name contains a NUL byte".into()))?;
    let options: Vec<CString> =
        [format!("--gpu-architecture={}", target.arch()), "--std=c++17".into(), "-default-device".into()]
            .into_iter()
            .map(|o| CString::new(o).expect("no NUL in our options"))
            .collect();
    let option_ptrs: Vec<*const c_char> = options.iter().map(|o| o.as_ptr()).collect();
    let mut prog: Program = std::ptr::null_mut();
    // SAFETY: NUL-terminated strings that outlive the calls, no headers, valid out-pointers;
    // the program is destroyed on every path below.
    unsafe {
        let r = create(&mut prog, src.as_ptr(), cname.as_ptr(), 0, std::ptr::null(), std::ptr::null());
        if r != 0 {
            return Err(err(nv.error_string(r)));
        }
        let result = (|| {
            let r = compile_f(prog, option_ptrs.len() as c_int, option_ptrs.as_ptr());
            if r != 0 {
                let mut n = 0usize;
                let mut log = String::new();
                if log_size(prog, &mut n) == 0 && n > 1 {
                    let mut buf = vec![0u8; n];
                    if log_f(prog, buf.as_mut_ptr() as *mut c_char) == 0 {
                        log = String::from_utf8_lossy(&buf[..n - 1]).trim().to_string();
                    }
                }
                let msg = nv.error_string(r);
                return Err(err(if log.is_empty() { msg } else { format!("{msg}: {log}") }));
            }
            let mut n = 0usize;
            let r = out_size(prog, &mut n);
            if r != 0 {
                return Err(err(nv.error_string(r)));
            }
            let mut buf = vec![0u8; n];
            let r = out_f(prog, buf.as_mut_ptr() as *mut c_char);
            if r != 0 {
                return Err(err(nv.error_string(r)));
            }
            Ok(buf)
        })();
        destroy(&mut prog);
        result
    }
}
