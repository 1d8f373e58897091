//! Every kernel of the crate compiles with NVRTC, as PTX for compute_80 and compute_90 (A100,
//! H100/H200) and as a CUBIN for sm_90; a compile error fails the test. No GPU is needed; the
//! test prints 'skipped: no libnvrtc' only when NVRTC cannot be found at all.
use iw_cuda::nvrtc::{compile, nvrtc, Target};
use iw_cuda::{Error, KERNELS};

fn have_nvrtc() -> bool {
    // Make sure libtorch is mapped (the CUDA wheels keep libnvrtc beside it).
    let _ = tch::Tensor::zeros([1], (tch::Kind::Float, tch::Device::Cpu));
    match nvrtc() {
        Ok(nv) => {
            eprintln!("libnvrtc: {} (version {:?})", nv.path.display(), nv.version());
            true
        }
        Err(e) => {
            println!("skipped: no libnvrtc ({e})");
            false
        }
    }
}

#[test]
fn every_kernel_compiles() {
    if !have_nvrtc() {
        return;
    }
    let archs = nvrtc().unwrap().supported_archs().unwrap();
    assert!(archs.contains(&80) && archs.contains(&90), "NVRTC supports {archs:?}");
    for (name, src) in KERNELS {
        for target in [Target::Ptx(80), Target::Ptx(90), Target::Cubin(90)] {
            let image = compile(name, src, target).unwrap_or_else(|e| panic!("{e}"));
            match target {
                Target::Ptx(n) => {
                    let text = String::from_utf8_lossy(&image);
                    assert!(text.contains(&format!(".target sm_{n}")), "{name}: no .target sm_{n} in the PTX");
                    for entry in ["iw_ccl_init", "iw_ccl_merge", "iw_ccl_compress"] {
                        assert!(text.contains(&format!(".entry {entry}")), "{name}: no entry {entry}");
                    }
                    assert_eq!(image.last(), Some(&0), "PTX is NUL-terminated for cuModuleLoadData");
                }
                Target::Cubin(_) => assert_eq!(&image[..4], b"\x7fELF", "{name}: a CUBIN is an ELF image"),
            }
        }
    }
}

#[test]
fn a_compile_error_names_the_kernel_and_the_line() {
    if !have_nvrtc() {
        return;
    }
    let src = "extern \"C\" __global__ void k(int* p) {\n  p[0] = undeclared_name;\n}\n";
    match compile("broken.cu", src, Target::Ptx(90)) {
        Err(Error::Compile { kernel, arch, log }) => {
            assert_eq!((kernel.as_str(), arch.as_str()), ("broken.cu", "compute_90"));
            assert!(log.contains("broken.cu(2)") && log.contains("undeclared_name"), "{log}");
        }
        other => panic!("expected a compile error, got {other:?}"),
    }
}
