//! The CUDA driver API (libcuda.so.1), opened at run time: just what launching our kernels
//! needs (device attributes, the primary context, modules, launches).
//!
//! Streams: tch 0.26 exposes no stream API (torch-sys's `cuda.rs` has device count, seeds,
//! synchronise and cuDNN switches only), so kernels are launched on the legacy default stream
//! (`hStream = 0`). That is PyTorch's default stream, the one every tch op runs on unless a
//! caller switches streams (iw never does), so our launches are ordered with the tensor ops
//! before and after them without a synchronisation. Contexts: PyTorch uses each device's
//! primary context; [`Driver::with_context`] retains it and makes it current for the call.
use crate::error::{Error, Result};
use libloading::{Library, Symbol};
use std::ffi::{c_char, c_int, c_uint, c_void, CStr, CString};
use std::sync::OnceLock;

type CuResult = c_int;
/// A CUDA context handle.
pub type Context = *mut c_void;
/// A loaded module.
pub type Module = *mut c_void;
/// A kernel in a module.
pub type Function = *mut c_void;

const CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR: c_int = 75;
const CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR: c_int = 76;

/// The opened driver library, initialised.
pub struct Driver {
    lib: Library,
}

static DRIVER: OnceLock<std::result::Result<Driver, String>> = OnceLock::new();

/// The process's CUDA driver, opened and `cuInit`-ed once; an error without one.
pub fn driver() -> Result<&'static Driver> {
    DRIVER.get_or_init(Driver::open).as_ref().map_err(|e| Error::NoCuda(e.clone()))
}

impl Driver {
    fn open() -> std::result::Result<Driver, String> {
        // SAFETY: loading the driver runs its initialisers, which have no preconditions.
        let lib = unsafe { Library::new("libcuda.so.1") }
            .map_err(|e| format!("libcuda.so.1 (the NVIDIA driver) cannot be opened: {e}"))?;
        let d = Driver { lib };
        let init = d.sym::<unsafe extern "C" fn(c_uint) -> CuResult>(b"cuInit\0").map_err(|e| e.to_string())?;
        // SAFETY: cuInit(0) may be called any number of times.
        let r = unsafe { init(0) };
        if r != 0 {
            return Err(format!("cuInit: {}", d.error_string(r)));
        }
        Ok(d)
    }

    fn sym<T>(&self, name: &[u8]) -> Result<Symbol<'_, T>> {
        // SAFETY: each call site names the symbol's C signature as `T`, from cuda.h.
        unsafe { self.lib.get(name) }
            .map_err(|e| Error::NoCuda(format!("libcuda.so.1: {}: {e}", String::from_utf8_lossy(name))))
    }

    fn error_string(&self, r: CuResult) -> String {
        let mut s: *const c_char = std::ptr::null();
        if let Ok(f) = self.sym::<unsafe extern "C" fn(CuResult, *mut *const c_char) -> CuResult>(b"cuGetErrorString\0")
        {
            // SAFETY: a valid out-pointer; the string is static.
            if unsafe { f(r, &mut s) } == 0 && !s.is_null() {
                return format!("{} (CUresult {r})", unsafe { CStr::from_ptr(s) }.to_string_lossy());
            }
        }
        format!("CUresult {r}")
    }

    fn check(&self, call: &'static str, r: CuResult) -> Result<()> {
        if r == 0 {
            Ok(())
        } else {
            Err(Error::Driver { call, message: self.error_string(r) })
        }
    }

    /// Compute capability of device `ordinal` as `10 * major + minor` (90 for an H100/H200).
    pub fn compute_capability(&self, ordinal: i32) -> Result<u32> {
        let get = self.sym::<unsafe extern "C" fn(*mut c_int, c_int) -> CuResult>(b"cuDeviceGet\0")?;
        let attr = self.sym::<unsafe extern "C" fn(*mut c_int, c_int, c_int) -> CuResult>(b"cuDeviceGetAttribute\0")?;
        let (mut dev, mut major, mut minor) = (0, 0, 0);
        // SAFETY: valid out-pointers.
        unsafe {
            self.check("cuDeviceGet", get(&mut dev, ordinal))?;
            self.check("cuDeviceGetAttribute", attr(&mut major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev))?;
            self.check("cuDeviceGetAttribute", attr(&mut minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev))?;
        }
        Ok((major * 10 + minor) as u32)
    }

    /// Runs `f` with device `ordinal`'s primary context (PyTorch's) current on this thread.
    pub fn with_context<T>(&self, ordinal: i32, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let get = self.sym::<unsafe extern "C" fn(*mut c_int, c_int) -> CuResult>(b"cuDeviceGet\0")?;
        let retain =
            self.sym::<unsafe extern "C" fn(*mut Context, c_int) -> CuResult>(b"cuDevicePrimaryCtxRetain\0")?;
        let release = self.sym::<unsafe extern "C" fn(c_int) -> CuResult>(b"cuDevicePrimaryCtxRelease_v2\0")?;
        let push = self.sym::<unsafe extern "C" fn(Context) -> CuResult>(b"cuCtxPushCurrent_v2\0")?;
        let pop = self.sym::<unsafe extern "C" fn(*mut Context) -> CuResult>(b"cuCtxPopCurrent_v2\0")?;
        let (mut dev, mut ctx): (c_int, Context) = (0, std::ptr::null_mut());
        // SAFETY: valid out-pointers; the context is popped and released on every path.
        unsafe {
            self.check("cuDeviceGet", get(&mut dev, ordinal))?;
            self.check("cuDevicePrimaryCtxRetain", retain(&mut ctx, dev))?;
            if let Err(e) = self.check("cuCtxPushCurrent", push(ctx)) {
                release(dev);
                return Err(e);
            }
            let out = f();
            let mut popped: Context = std::ptr::null_mut();
            pop(&mut popped);
            release(dev);
            out
        }
    }

    /// Loads a PTX or CUBIN image into the current context.
    pub fn load_module(&self, image: &[u8]) -> Result<Module> {
        let load = self.sym::<unsafe extern "C" fn(*mut Module, *const c_void) -> CuResult>(b"cuModuleLoadData\0")?;
        let mut m: Module = std::ptr::null_mut();
        // SAFETY: `image` is a complete PTX (NUL-terminated) or CUBIN image from NVRTC.
        self.check("cuModuleLoadData", unsafe { load(&mut m, image.as_ptr() as *const c_void) })?;
        Ok(m)
    }

    /// A kernel of a loaded module.
    pub fn function(&self, module: Module, name: &str) -> Result<Function> {
        let get = self
            .sym::<unsafe extern "C" fn(*mut Function, Module, *const c_char) -> CuResult>(b"cuModuleGetFunction\0")?;
        let cname = CString::new(name).map_err(|_| Error::Input(format!("kernel name {name:?}")))?;
        let mut f: Function = std::ptr::null_mut();
        // SAFETY: a live module and a NUL-terminated name.
        self.check("cuModuleGetFunction", unsafe { get(&mut f, module, cname.as_ptr()) })?;
        Ok(f)
    }

    /// Launches `f` on the legacy default stream (PyTorch's default stream).
    ///
    /// # Safety
    /// `params` must point at one value per kernel parameter, of the kernel's C types, and
    /// every device pointer among them must be valid for what the kernel accesses.
    pub unsafe fn launch(
        &self,
        f: Function,
        grid: [u32; 3],
        block: [u32; 3],
        params: &mut [*mut c_void],
    ) -> Result<()> {
        type Launch = unsafe extern "C" fn(
            Function,
            c_uint,
            c_uint,
            c_uint,
            c_uint,
            c_uint,
            c_uint,
            c_uint,
            *mut c_void,
            *mut *mut c_void,
            *mut *mut c_void,
        ) -> CuResult;
        let launch = self.sym::<Launch>(b"cuLaunchKernel\0")?;
        let r = launch(
            f,
            grid[0],
            grid[1],
            grid[2],
            block[0],
            block[1],
            block[2],
            0,
            std::ptr::null_mut(),
            params.as_mut_ptr(),
            std::ptr::null_mut(),
        );
        self.check("cuLaunchKernel", r)
    }
}
