//! NRRD reader and writer against SimpleITK: files SimpleITK writes (every dtype, an oblique
//! direction, gzip, a detached `.nhdr` with raw and gzip data) are read by iw; files iw writes
//! are read by SimpleITK; hand-written headers (RAS and LAS spaces, `space dimension`, ascii and
//! hex encodings, big-endian data, line and byte skips, a size-1 non-spatial axis, CRLF line
//! ends) are read by both the same way; broken files are one-line errors naming the file.
mod common;
use common::*;
use iw_core::{DynVolume, Geometry, Volume};
use iw_io::nrrd::{self, WriteOptions};
use iw_io::{read_volume, write_volume};
use std::path::{Path, PathBuf};

fn assert_matches_sitk(ours: &DynVolume, s: &serde_json::Value, what: &str) {
    assert_eq!(ours.shape_zyx(), shape(&s["shape_zyx"]), "{what}: shape");
    assert_eq!(ours.dtype().name(), s["dtype"].as_str().unwrap(), "{what}: dtype");
    let g = ours.geometry();
    for a in 0..3 {
        assert!(close(g.spacing_xyz_mm[a], f(&s["spacing_xyz"][a]), 1e-12), "{what}: spacing {:?}", g.spacing_xyz_mm);
        assert!(close(g.origin_xyz_mm[a], f(&s["origin_xyz"][a]), 1e-12), "{what}: origin {:?}", g.origin_xyz_mm);
        for c in 0..3 {
            assert!(
                close(g.direction[a][c], f(&s["direction"][a * 3 + c]), 1e-12),
                "{what}: direction[{a}][{c}] {:?} vs {}",
                g.direction,
                s["direction"]
            );
        }
    }
    assert_stats(ours, s, what);
}

fn sitk_files() -> (tempfile::TempDir, Vec<PathBuf>) {
    let dir = tempfile::tempdir().unwrap();
    reference(&["make-nrrd", dir.path().to_str().unwrap()]);
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("nrrd" | "nhdr")))
        .collect();
    files.sort();
    assert_eq!(files.len(), 13);
    (dir, files)
}

#[test]
fn reads_what_simpleitk_writes() {
    let (_dir, files) = sitk_files();
    let refs = describe("sitk", &files);
    for (p, s) in files.iter().zip(&refs) {
        let ours = read_volume(p).unwrap_or_else(|e| panic!("{e}"));
        assert_matches_sitk(&ours, s, &p.display().to_string());
    }
}

#[test]
fn simpleitk_reads_what_iw_writes() {
    let (dir, files) = sitk_files();
    let mut pairs = Vec::new();
    for (i, p) in files.iter().enumerate() {
        let v = read_volume(p).unwrap();
        for (name, compress) in [
            (format!("w{i}.nrrd"), true),
            (format!("wr{i}.nrrd"), false),
            (format!("w{i}.nhdr"), true),
            (format!("wr{i}.nhdr"), false),
        ] {
            let out = dir.path().join(name);
            iw_core::dispatch!(&v, x => nrrd::write(&out, x, WriteOptions { compress }).unwrap());
            pairs.push((p.clone(), out));
        }
    }
    assert!(dir.path().join("w0.raw.gz").exists() && dir.path().join("wr0.raw").exists());
    let outs: Vec<PathBuf> = pairs.iter().map(|x| x.1.clone()).collect();
    let refs = describe("sitk", &outs);
    for ((orig, out), s) in pairs.iter().zip(&refs) {
        let ours = read_volume(orig).unwrap();
        assert_matches_sitk(&ours, s, &out.display().to_string());
        // And iw reads its own file back with the same voxels.
        let back = read_volume(out).unwrap();
        assert_eq!(back.dtype(), ours.dtype());
        assert_eq!(back.to_f64().data, ours.to_f64().data, "{}", out.display());
    }
}

/// An axis-aligned geometry survives iw's writer and reader bit for bit (the decimals are
/// shortest round-trip ones, and the length of (s, 0, 0) is s exactly).
#[test]
fn round_trip_is_exact() {
    let dir = tempfile::tempdir().unwrap();
    let data = ndarray::Array3::from_shape_fn((3, 4, 5), |(z, y, x)| (z * 100 + y * 10 + x) as i16 - 77);
    let g = Geometry {
        spacing_xyz_mm: [0.703125, 0.1 + 0.2, 2.5],
        origin_xyz_mm: [-172.89999389648438, 1e-7, 3.0e5 / 7.0],
        direction: [[-1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]],
    };
    let v = Volume::new(data, g.clone());
    for name in ["a.nrrd", "b.nhdr"] {
        let p = dir.path().join(name);
        write_volume(&p, &v).unwrap();
        let back = read_volume(&p).unwrap();
        let DynVolume::I16(back) = back else { panic!("dtype {}", back.dtype()) };
        assert_eq!(back.data, v.data);
        assert_eq!(back.geometry, g, "{name}");
    }
}

/// A hand-written file and what both readers must see in it.
fn check_both(dir: &Path, name: &str, header: &str, data: &[u8]) -> DynVolume {
    let p = dir.join(name);
    let mut bytes = header.as_bytes().to_vec();
    bytes.extend_from_slice(data);
    std::fs::write(&p, bytes).unwrap();
    let ours = read_volume(&p).unwrap_or_else(|e| panic!("{e}"));
    let s = &describe("sitk", std::slice::from_ref(&p))[0];
    assert_matches_sitk(&ours, s, name);
    ours
}

fn le_i16(v: &[i16]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

#[test]
fn spaces_encodings_and_skips_agree_with_simpleitk() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let vals: Vec<i16> = (0..24).map(|i| i * 37 - 300).collect();
    let head = |extra: &str| {
        format!("NRRD0004\ntype: short\ndimension: 3\nsizes: 4 3 2\nendian: little\nencoding: raw\n{extra}\n")
    };
    let dirs = "space directions: (0.5,0.1,0) (-0.1,0.5,0) (0,0,2)\nspace origin: (10,-20,30)\n";
    // RAS: x and y negated into LPS.
    let ras = check_both(d, "ras.nrrd", &head(&format!("space: right-anterior-superior\n{dirs}")), &le_i16(&vals));
    let g = ras.geometry();
    assert_eq!(g.origin_xyz_mm, [-10.0, 20.0, 30.0]);
    assert!((g.direction[0][0] + 0.5 / 0.26f64.sqrt()).abs() < 1e-15);
    check_both(d, "ras_short.nrrd", &head(&format!("space: RAS\n{dirs}")), &le_i16(&vals));
    check_both(d, "las.nrrd", &head(&format!("space: left-anterior-superior\n{dirs}")), &le_i16(&vals));
    let lps = check_both(d, "lps.nrrd", &head(&format!("space: LPS\n{dirs}")), &le_i16(&vals));
    assert_eq!(lps.geometry().origin_xyz_mm, [10.0, -20.0, 30.0]);
    check_both(d, "space_dimension.nrrd", &head(&format!("space dimension: 3\n{dirs}")), &le_i16(&vals));
    check_both(d, "spacings.nrrd", &head("spacings: 0.5 0.75 3\n"), &le_i16(&vals));
    // Big-endian, comments, key/value pairs, CRLF line ends.
    let be: Vec<u8> = vals.iter().flat_map(|x| x.to_be_bytes()).collect();
    let crlf = "NRRD0005\r\n# a comment\r\ntype: int16\r\ndimension: 3\r\nsizes: 4 3 2\r\nendian: big\r\n\
                encoding: raw\r\nmodality:=CT\r\nspace: left-posterior-superior\r\n\
                space directions: (1, 0, 0) (0, 1, 0) (0, 0, 1)\r\nspace origin: (1,2,3)\r\n\r\n";
    let v = check_both(d, "big_crlf.nrrd", crlf, &be);
    assert_eq!(v.to_f64().data.iter().map(|&x| x as i16).collect::<Vec<_>>(), vals);
    // Skips: two text lines and 5 bytes before raw data; data at the file's end (byte skip -1).
    let mut skipped = b"junk line\nsecond\n12345".to_vec();
    skipped.extend(le_i16(&vals));
    check_both(d, "skips.nrrd", &head(&format!("line skip: 2\nbyte skip: 5\nspace: LPS\n{dirs}")), &skipped);
    let mut tail = b"0123456789abcdef".to_vec();
    tail.extend(le_i16(&vals));
    check_both(d, "tail.nrrd", &head(&format!("byte skip: -1\nspace: LPS\n{dirs}")), &tail);
    // ascii and hex encodings.
    let ascii_head = head(&format!("space: LPS\n{dirs}")).replace("encoding: raw", "encoding: ascii");
    let text: String = vals.iter().map(|v| format!("{v}\n")).collect();
    check_both(d, "ascii.nrrd", &ascii_head, text.as_bytes());
    let floats = "NRRD0004\ntype: float\ndimension: 3\nsizes: 2 2 1\nencoding: text\n\n1.5 -2.25\n3e3 0.1\n";
    let fv = check_both(d, "ascii_float.nrrd", floats, b"");
    assert_eq!(fv.to_f64().data.iter().copied().collect::<Vec<_>>(), [1.5, -2.25, 3000.0, 0.1f32 as f64]);
    let hex_head = head(&format!("space: LPS\n{dirs}")).replace("encoding: raw", "encoding: hex");
    let hex: String = le_i16(&vals)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .chunks(8)
        .map(|c| c.join("") + "\n")
        .collect();
    check_both(d, "hex.nrrd", &hex_head, hex.as_bytes());
    // A leading non-spatial axis of one sample (what some tools write for scalar images).
    let four = "NRRD0004\ntype: short\ndimension: 4\nsizes: 1 4 3 2\nendian: little\nencoding: raw\n\
                space: LPS\nkinds: scalar domain domain domain\n\
                space directions: none (0.5,0,0) (0,0.5,0) (0,0,2)\nspace origin: (1,2,3)\n\n";
    check_both(d, "four_axes.nrrd", four, &le_i16(&vals));
}

/// A 2D image: iw reads it as one slice whose third axis is the normal of the other two.
#[test]
fn two_dimensional_image() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("flat.nrrd");
    let mut bytes = b"NRRD0004\ntype: uchar\ndimension: 2\nsizes: 3 2\nencoding: raw\nspace: RAS\n\
                      space directions: (0,2,0) (0,0,3)\nspace origin: (5,6,7)\n\n"
        .to_vec();
    bytes.extend([1u8, 2, 3, 4, 5, 6]);
    std::fs::write(&p, bytes).unwrap();
    let v = read_volume(&p).unwrap();
    assert_eq!(v.shape_zyx(), [1, 2, 3]);
    let g = v.geometry();
    assert_eq!(g.spacing_xyz_mm, [2.0, 3.0, 1.0]);
    assert_eq!(g.origin_xyz_mm, [-5.0, -6.0, 7.0]);
    assert_eq!(g.direction, [[0.0, 0.0, -1.0], [-1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]);
}

fn error_of(name: &str, bytes: &[u8], extra: &[(&str, &[u8])]) -> String {
    let dir = tempfile::tempdir().unwrap();
    for (n, b) in extra {
        std::fs::write(dir.path().join(n), b).unwrap();
    }
    let p = dir.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    let e = read_volume(&p).expect_err(name).to_string();
    assert!(e.starts_with(&p.display().to_string()) || e.contains(".raw"), "{name}: {e}");
    assert!(!e.contains('\n'), "{name}: {e}");
    e
}

#[test]
fn broken_files_are_one_line_errors() {
    let ok = "NRRD0004\ntype: short\ndimension: 3\nsizes: 4 3 2\nendian: little\nencoding: raw\n\n";
    let cases: Vec<(String, &str)> = vec![
        (ok.to_string(), "data ends after 0 of 48 bytes"),
        (ok.replace("NRRD0004", "NRRD0009"), "not a NRRD file"),
        (ok.replace("sizes: 4 3 2", "sizes: 4294967296 4294967296 4294967296"), "overflow the address space"),
        (ok.replace("sizes: 4 3 2", "sizes: 4 3"), "sizes: \"4 3\" must be 3 positive integers"),
        (ok.replace("endian: little\n", ""), "missing field 'endian'"),
        (ok.replace("type: short", "type: complex"), "not a NRRD type"),
        (ok.replace("encoding: raw", "encoding: bzip2"), "unsupported: encoding: bzip2"),
        (ok.replace("encoding: raw", "encoding: gzip"), "more than 0 gzip bytes can hold"),
        (ok.replace("\n\n", "\n"), "without the blank line"),
        (ok.replace("\n\n", "\nspace: RAST\n\n"), "4D space"),
        (ok.replace("\n\n", "\nspace: LPS\nspace directions: (1,0,0) (0,1,0)\n\n"), "2 entries for dimension 3"),
        (ok.replace("\n\n", "\nspace: LPS\nspace directions: (1,0,0) (2,0,0) (0,0,1)\n\n"), "singular"),
        (ok.replace("\n\n", "\ndata file: ../etc/passwd\n\n"), "must be a file name in the header's folder"),
        (ok.replace("\n\n", "\ndata file: LIST\n\n"), "several data files"),
        (ok.replace("\n\n", "\ntype: short\n\n"), "given twice"),
        (ok.replace("dimension: 3\nsizes: 4 3 2", "dimension: 4\nsizes: 3 4 3 2"), "4 spatial axes"),
        (
            ok.replace(
                "dimension: 3\nsizes: 4 3 2",
                "dimension: 4\nsizes: 3 4 3 2\nkinds: RGB-color domain domain domain",
            ),
            "axis 0 (RGB-color, 3 samples) is not spatial",
        ),
        (ok.replace("encoding: raw", "encoding: ascii") + "1 2 3", "cannot hold 24 values"),
        (ok.replace("encoding: raw", "encoding: ascii") + &"7 ".repeat(23) + "x", "ascii value 23: \"x\""),
    ];
    for (text, want) in cases {
        let e = error_of("bad.nrrd", text.as_bytes(), &[]);
        assert!(e.contains(want), "{text:?}: {e} (wanted {want:?})");
    }
    // A detached header whose data file is short, and one whose data file is missing.
    let nhdr = "NRRD0004\ntype: short\ndimension: 3\nsizes: 4 3 2\nendian: little\nencoding: raw\ndata file: d.raw\n";
    let e = error_of("x.nhdr", nhdr.as_bytes(), &[("d.raw", &[0u8; 47])]);
    assert!(e.contains("d.raw") && e.contains("data ends after 47 of 48 bytes"), "{e}");
    let e = error_of("y.nhdr", nhdr.as_bytes(), &[]);
    assert!(e.contains("d.raw"), "{e}");
    // A gzip stream whose CRC does not match.
    let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut z, &[7u8; 48]).unwrap();
    let mut gz = z.finish().unwrap();
    let n = gz.len();
    gz[n - 8] ^= 1;
    let mut bytes = ok.replace("encoding: raw", "encoding: gzip").into_bytes();
    bytes.extend(gz);
    let e = error_of("crc.nrrd", &bytes, &[]);
    assert!(e.contains("corrupt gzip data"), "{e}");
}

/// The output guard knows a `.nhdr` writes its data file beside it.
#[test]
fn data_files_of_a_detached_header() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("h.nhdr");
    std::fs::write(&p, "NRRD0004\ndata file: other.raw.gz\n").unwrap();
    let files = iw_io::data_files(&p);
    assert!(files.contains(&dir.path().join("other.raw.gz")));
    assert!(files.contains(&dir.path().join("h.raw.gz")) && files.contains(&dir.path().join("h.raw")));
    assert!(iw_io::data_files(&dir.path().join("a.nrrd")).is_empty());
}
