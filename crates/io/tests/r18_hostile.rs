//! Issue 18: hostile input to the readers. Each defect of the issue has a test named after it
//! (`r18_*`); the inputs are in `tests/regressions/` (written by `make_inputs.py` there, with
//! nibabel and pydicom). A counting global allocator measures the peak heap of each read, so the
//! resource rule ("no input makes iw allocate more than its declared size justifies after that
//! size is checked against the file") is asserted, not assumed. Inputs that fuzzing found
//! (`fuzz-<reader>-*`) are fed to the bytes entry points and must give an error, not a panic.
use std::alloc::{GlobalAlloc, Layout, System};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Mutex;

/// The system allocator, counting live bytes and their peak.
struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), SeqCst) + layout.size();
            PEAK.fetch_max(now, SeqCst);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), SeqCst);
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), SeqCst) + layout.size();
            PEAK.fetch_max(now, SeqCst);
        }
        p
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                let now = LIVE.fetch_add(new_size - layout.size(), SeqCst) + new_size - layout.size();
                PEAK.fetch_max(now, SeqCst);
            } else {
                LIVE.fetch_sub(layout.size() - new_size, SeqCst);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Serialises the tests of this file, so that a peak belongs to one read.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Runs `f` and returns its result with the peak of live heap bytes above the start.
fn peak_heap<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = LIVE.load(SeqCst);
    PEAK.store(base, SeqCst);
    let out = f();
    (out, PEAK.load(SeqCst).saturating_sub(base))
}

const MIB: usize = 1 << 20;

fn input(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/regressions").join(name)
}

/// Reads `name` from the regression inputs; it must fail, within `max_heap` bytes of heap, with
/// a message naming the file and containing `says`. Returns the message.
fn rejects(name: &str, max_heap: usize, says: &str) -> String {
    let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let path = input(name);
    let (result, peak) = peak_heap(|| iw_io::read_volume(&path));
    let message = match result {
        Ok(v) => panic!("{name}: read as a {:?} volume, expected an error", v.shape_zyx()),
        Err(e) => e.to_string(),
    };
    assert!(message.contains(name), "{name}: the message does not name the file: {message}");
    assert!(message.contains(says), "{name}: expected {says:?} in: {message}");
    assert!(!message.contains('\n'), "{name}: one line expected: {message}");
    assert!(peak <= max_heap, "{name}: peak heap {peak} bytes > {max_heap} ({message})");
    message
}

// See: issue 18, "A 73-byte DICOM makes `iw info` allocate 4.6 GB before its error".
#[test]
fn r18_dicom_length_bomb_is_bounded() {
    rejects("dicom_length_bomb.dcm", MIB, "not a readable DICOM file");
}

// See: issue 18, "A huge NIfTI dimension aborts (memory allocation of 35181150961663 bytes)".
#[test]
fn r18_nifti_huge_dim_is_bounded() {
    rejects("nifti_huge_dim.nii", 4 * MIB, "the file has 360 bytes");
    // 32767^3 bytes cannot come out of 64 gzip bytes: refused before inflating anything.
    rejects("nifti_huge_dim.nii.gz", 4 * MIB, "deflate expands at most 1032:1");
}

// See: issue 18 (resource rule), the MetaImage analogue: zlib data declaring 2^40 voxels.
#[test]
fn r18_metaimage_zlib_bomb_is_bounded() {
    rejects("metaimage_zlib_bomb.mha", 4 * MIB, "deflate expands at most 1032:1");
}

// See: issue 18, "An RLE Lossless DICOM with garbage fragments panics (rle_lossless.rs:237)".
#[test]
fn r18_dicom_rle_garbage_is_an_error() {
    rejects("dicom_rle_garbage.dcm", 4 * MIB, "RLE fragment 0");
}

/// A well-formed RLE header whose segments decode short: the decoder indexes past its
/// buffer, which only the catch_unwind guard in iw-io's DICOM reader turns into an error.
#[test]
fn r18_dicom_rle_short_segment_is_an_error() {
    rejects("dicom_rle_short_segment.dcm", 4 * MIB, "RLE Lossless pixel data");
}

// See: issue 18, "a DICOM with Rows=0 panics (chunk size must be non-zero)".
#[test]
fn r18_dicom_rows_zero_is_an_error() {
    rejects("dicom_rows_zero.dcm", 4 * MIB, "Rows = 0: must be an integer in 1..65535");
}

#[test]
fn r18_dicom_short_pixel_data_is_an_error() {
    rejects("dicom_short_pixels.dcm", 4 * MIB, "PixelData has 32 bytes");
}

// See: issue 18, "MetaImage follows ElementDataFile anywhere: ../../../etc/passwd is read".
#[test]
fn r18_metaimage_data_file_must_be_in_the_header_folder() {
    rejects("metaimage_traversal.mhd", MIB, "must be LOCAL or a file name in the header's folder");
    rejects("metaimage_absolute.mhd", MIB, "must be LOCAL or a file name in the header's folder");
}

// See: issue 18, "MetaImage DimSize overflow message without the key".
#[test]
fn r18_metaimage_dimsize_overflow_names_the_key() {
    rejects("metaimage_dimsize_overflow.mha", MIB, "DimSize = [4294967296.0, 4294967296.0, 4294967296.0]");
}

// See: issue 18, "gzip CRC not checked (Python rejects such a file)".
#[test]
fn r18_gzip_crc_and_isize_are_checked() {
    rejects("nifti_bad_crc.nii.gz", 4 * MIB, "corrupt gzip stream");
    rejects("nifti_bad_isize.nii.gz", 4 * MIB, "corrupt gzip stream");
}

// See: issue 18, "an invalid qform quaternion (b^2+c^2+d^2 > 1) accepted where nibabel raises".
#[test]
fn r18_invalid_qform_quaternion_is_rejected() {
    rejects("nifti_bad_quaternion.nii", 4 * MIB, "b^2 + c^2 + d^2 = 1.25 > 1");
}

// See: issue 18, "dim[0] = 2048 printed for dim[0] = 8".
#[test]
fn r18_dim0_is_printed_in_the_file_byte_order() {
    rejects("nifti_dim0_8.nii", 4 * MIB, "dim[0] = 8:");
}

// See: issue 18, "'No such file or directory' printed twice".
#[test]
fn r18_missing_file_is_said_once() {
    let err = iw_io::read_volume("/nonexistent/r18.nii").unwrap_err();
    let mut chain = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(s) = source {
        chain += &format!(": {s}");
        source = s.source();
    }
    assert_eq!(chain.to_ascii_lowercase().matches("no such file").count(), 1, "{chain}");
}

/// A quaternion just past the unit ball by float32 rounding (within nibabel's 3 eps) still reads.
#[test]
fn r18_quaternion_within_rounding_is_accepted() {
    let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut bytes = std::fs::read(input("nifti_bad_quaternion.nii")).unwrap();
    let b = 1.0f32 + f32::EPSILON; // b^2 = 1 + 2 eps: w^2 = -2 eps
    bytes[256..260].copy_from_slice(&b.to_le_bytes());
    bytes[260..268].fill(0);
    let v = iw_io::nifti::read_bytes(&bytes, false).expect("within tolerance");
    assert_eq!(v.shape_zyx(), [2, 2, 2]);
    bytes[256..260].copy_from_slice(&(1.0f32 + 4.0 * f32::EPSILON).to_le_bytes());
    assert!(iw_io::nifti::read_bytes(&bytes, false).is_err(), "b^2 = 1 + 8 eps is beyond the tolerance");
}

// See: issue 18, "A MetaImage write that fails leaves an orphan .raw".
#[test]
fn r18_metaimage_write_leaves_neither_file_on_failure() {
    let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let header = dir.path().join("case.mhd");
    // The header's rename fails (a directory is in the way) after the data file was written.
    std::fs::create_dir(&header).unwrap();
    std::fs::write(header.join("keep"), b"x").unwrap();
    let v = iw_core::Volume::new(ndarray::Array3::<i16>::zeros((2, 3, 4)), iw_core::Geometry::default());
    let err = iw_io::write_volume(&header, &v).expect_err("the header path is a directory");
    assert!(err.to_string().contains("case.mhd"), "{err}");
    let left: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(left, vec!["case.mhd".to_string()], "only the pre-existing directory may remain");
    // And the pair is written when nothing is in the way.
    std::fs::remove_dir_all(&header).unwrap();
    iw_io::write_volume(&header, &v).unwrap();
    assert!(dir.path().join("case.raw").is_file());
    assert_eq!(iw_io::read_volume(&header).unwrap().shape_zyx(), [2, 3, 4]);
}

/// Every committed fuzz finding (`fuzz-<target>-<id>` in tests/regressions) must be an error of
/// the reader its name gives, within the heap its length justifies.
#[test]
fn r18_fuzz_findings_are_errors() {
    let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut n = 0;
    for entry in std::fs::read_dir(input("")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix("fuzz-") else { continue };
        let bytes = std::fs::read(&path).unwrap();
        let (result, peak) = peak_heap(|| match rest.split('-').next() {
            Some("nifti") => iw_io::nifti::read_bytes(&bytes, false).map(|_| ()),
            Some("niftigz") => iw_io::nifti::read_bytes(&bytes, true).map(|_| ()),
            Some("metaimage") => iw_io::metaimage::read_bytes(&bytes, Some(&bytes)).map(|_| ()),
            Some("dicom") => iw_io::dicom::read_bytes(&bytes).map(|_| ()),
            other => panic!("{name}: unknown reader {other:?}"),
        });
        assert!(result.is_err(), "{name}: read without error");
        assert!(peak <= 64 * MIB + 2048 * bytes.len(), "{name}: peak heap {peak}");
        n += 1;
    }
    println!("{n} fuzz findings replayed");
}
