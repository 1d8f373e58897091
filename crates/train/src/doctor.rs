//! `iw doctor`: what this machine gives iw.
use std::process::Command;

/// `iw doctor`: prints the libtorch version, CPU threads, CUDA availability, NVRTC and GPU names.
pub fn run() -> anyhow::Result<()> {
    println!("iw            {} (git {})", env!("CARGO_PKG_VERSION"), env!("IW_GIT_REVISION"));
    println!("libtorch      {}", env!("IW_TORCH_VERSION"));
    println!("cpu threads   {} (torch intra-op)", tch::get_num_threads());
    let cuda = tch::Cuda::is_available();
    println!("cuda          {}", if cuda { "available" } else { "not available" });
    // NVRTC compiles iw's CUDA kernels (iw-cuda); it needs no GPU.
    match iw_cuda::nvrtc::nvrtc() {
        Ok(nv) => match nv.version() {
            Ok((a, b)) => println!("nvrtc         {a}.{b} ({})", nv.path.display()),
            Err(e) => println!("nvrtc         unusable: {e}"),
        },
        Err(e) => println!("nvrtc         not found: {e}"),
    }
    if cuda {
        let n = tch::Cuda::device_count();
        println!("cudnn         {}", if tch::Cuda::cudnn_is_available() { "available" } else { "not available" });
        let names = gpu_names();
        for i in 0..n {
            let name = names.get(i as usize).map(String::as_str).unwrap_or("(name unknown: nvidia-smi not found)");
            println!("cuda:{i}        {name}");
        }
    }
    Ok(())
}

/// GPU names from `nvidia-smi` (libtorch's C API that tch wraps has no device-name call).
fn gpu_names() -> Vec<String> {
    Command::new("nvidia-smi")
        .args(["--query-gpu=name", "--format=csv,noheader"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).lines().map(|l| l.trim().to_string()).collect())
        .unwrap_or_default()
}
