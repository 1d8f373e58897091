//! `iw segment` end to end on real scans: a smoke-trained run (the synthetic LiTS smoke data, a
//! few iterations) segments pyradiomics 3.1.0's CT (lung1) and MR (brain1, breast1) scans
//! (test-data/, fetched by `make setup`). SimpleITK reads the outputs back with the input's
//! exact geometry; the lesion tables are cc3d's components of the mask with SimpleITK's world
//! centroids; a bad scan is one line and exit 2 while the others are written; a rerun skips
//! what exists; `--roi` predicts in the mask's bounding box + 5 voxels only, and on a raw LiTS
//! case with its liver gives exactly `iw predict`'s probabilities of the prepared case, and for a
//! LUNA16 run makes the lung mask and box of `iw prepare luna16`; a run without an
//! intensity window needs `--scaling`; CUDA gives the CPU's probabilities where there is a GPU.
use iw_test_support::cli::{ok, p, text, Iw};
use iw_test_support::pyradiomics_scan;
use std::path::{Path, PathBuf};
use std::process::Output;

fn iw(args: &[&str]) -> Output {
    Iw::new(env!("CARGO_BIN_EXE_iw")).in_repo().run(args)
}

fn reference(args: &[&str]) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/pyradiomics_reference.py");
    serde_json::from_str(&iw_test_support::run_python(&script, args)).unwrap()
}

/// A tiny trained run: the smoke data and scale of `iw reproduce lits --scale smoke`, 100 steps,
/// and its `iw predict` of the test case. Returns the run folder and the smoke data's folder.
fn smoke_run(dir: &Path) -> (PathBuf, PathBuf) {
    let work = dir.join("work");
    ok(&iw(&["reproduce", "lits", "--scale", "smoke", "--data-only", "--work", p(&work)]));
    let runs = dir.join("runs");
    let data = work.join("lits-synth-smoke");
    let prepared = format!("dataset.prepared={}", data.join("prepared").display());
    for stage in ["train", "predict"] {
        ok(&iw(&[
            stage,
            "experiments/lits/iwdl.yaml",
            "--overlay",
            "experiments/scales/smoke.yaml",
            "--set",
            &prepared,
            // 100 steps (10 s): the smoke scale's 6 leave a network whose output is one constant.
            "--set",
            "training.epochs=4",
            "--set",
            "training.iterations=25",
            "--set",
            "training.lr_milestones=[3]",
            "--out",
            p(&runs),
        ]));
    }
    (runs.join("lits/iwdl/experiment_0"), data)
}

/// The lesion table as rows of numbers (the header checked).
fn read_csv(path: &Path) -> Vec<Vec<f64>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next().unwrap(), iw_run::cli::LESIONS_HEADER);
    lines.map(|l| l.split(',').map(|x| x.parse::<f64>().unwrap()).collect()).collect()
}

fn sitk_describe(paths: &[&Path]) -> Vec<serde_json::Value> {
    let mut args = vec!["describe"];
    args.extend(paths.iter().map(|x| p(x)));
    reference(&args).as_array().unwrap().clone()
}

/// Checks one scan's outputs against SimpleITK and cc3d; returns its number of lesions.
fn check_outputs(input: &Path, out: &Path, name: &str) -> usize {
    let (prob, mask, csv) = (
        out.join(format!("{name}_prob.nrrd")),
        out.join(format!("{name}_mask.nrrd")),
        out.join(format!("{name}_lesions.csv")),
    );
    let d = sitk_describe(&[input, &prob, &mask]);
    for (o, what) in [(&d[1], "prob"), (&d[2], "mask")] {
        for k in ["shape_zyx", "spacing_xyz", "origin_xyz", "direction"] {
            assert_eq!(o[k], d[0][k], "{name} {what}: {k} differs from the input's");
        }
    }
    assert_eq!(d[1]["dtype"], "float32");
    assert_eq!(d[2]["dtype"], "uint8");
    assert!(d[1]["min"].as_f64().unwrap() >= 0.0 && d[1]["max"].as_f64().unwrap() <= 1.0);
    let rows = read_csv(&csv);
    let refs = reference(&["lesions", p(&mask), p(&prob)]);
    let refs = refs.as_array().unwrap();
    assert_eq!(rows.len(), refs.len(), "{name}: one row per component of the mask");
    // Every voxel of the mask is in one lesion of the table.
    let voxels: f64 = rows.iter().map(|r| r[1]).sum();
    assert_eq!(voxels, d[2]["sum"].as_f64().unwrap(), "{name}: the table's voxels are the mask's");
    // Sorted by score: max probability, then size.
    for w in rows.windows(2) {
        assert!(w[0][13] > w[1][13] || w[0][13] == w[1][13] && w[0][1] >= w[1][1], "{name}: order");
    }
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r[0], (i + 1) as f64);
        // The reference component with the same bounding box and size.
        let m = refs
            .iter()
            .find(|c| {
                c["voxels"].as_f64().unwrap() == r[1]
                    && (0..3).all(|a| c["bbox_min"][a].as_f64().unwrap() == r[7 + a])
                    && (0..3).all(|a| c["bbox_max"][a].as_f64().unwrap() == r[10 + a])
            })
            .unwrap_or_else(|| panic!("{name}: lesion {} ({} voxels) is no component of the mask", r[0], r[1]));
        let close = |a: f64, b: f64, tol: f64| (a - b).abs() <= tol * b.abs().max(1.0);
        assert!(close(r[2], m["volume_mm3"].as_f64().unwrap(), 1e-6), "{name}: volume {} vs {}", r[2], m["volume_mm3"]);
        let diameter = (6.0 * r[2] / std::f64::consts::PI).cbrt();
        assert!(close(r[3], diameter, 1e-4), "{name}: equivalent diameter");
        for a in 0..3 {
            assert!(close(r[4 + a], m["centroid"][a].as_f64().unwrap(), 1e-5), "{name}: centroid {r:?} vs {m}");
        }
        assert!(
            close(r[13], m["max_prob"].as_f64().unwrap(), 1e-6) && close(r[14], m["mean_prob"].as_f64().unwrap(), 1e-6)
        );
    }
    rows.len()
}

fn cuda_available() -> bool {
    let o = iw(&["doctor"]);
    String::from_utf8_lossy(&o.stdout).contains("cuda          available")
}

#[test]
fn segment_real_ct_and_mr_with_a_smoke_trained_run() {
    let dir = tempfile::tempdir().unwrap();
    let (run, data) = smoke_run(dir.path());
    let names = ["lung1_image", "brain1_image", "breast1_image"];
    let scans: Vec<PathBuf> = names.iter().map(|n| pyradiomics_scan(n)).collect();
    // A broken scan among them: one line, exit 2, the others written.
    let bad = dir.path().join("broken.nrrd");
    let head = std::fs::read(&scans[2]).unwrap();
    std::fs::write(&bad, &head[..head.len() / 2]).unwrap();
    let out = dir.path().join("seg");
    let mut args = vec!["segment", p(&run), p(&scans[0]), p(&scans[1]), p(&bad), p(&scans[2]), "--out", p(&out)];
    let o = iw(&args);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let stderr = String::from_utf8_lossy(&o.stderr);
    let bad_lines: Vec<&str> = stderr.lines().filter(|l| l.contains("broken.nrrd")).collect();
    assert_eq!(bad_lines.len(), 1, "one line for the bad scan: {stderr}");
    assert!(bad_lines[0].contains("truncated") || bad_lines[0].contains("corrupt"), "{stderr}");
    assert!(stderr.contains("1 of 4 scan(s) failed: broken"), "{stderr}");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("region of interest: whole scan") && stdout.contains("window [-300, 300]"), "{stdout}");
    for n in names {
        check_outputs(&pyradiomics_scan(n), &out, n);
    }
    assert!(!out.join("broken_prob.nrrd").exists() && !out.join("broken_lesions.csv").exists());
    let summary = std::fs::read_to_string(out.join("segment_summary.csv")).unwrap();
    assert_eq!(summary.lines().count(), 5, "{summary}");
    assert!(summary.lines().any(|l| l.starts_with("broken,") && l.contains(",error,")), "{summary}");
    assert_eq!(summary.lines().filter(|l| l.contains(",done,")).count(), 3, "{summary}");

    // A rerun skips what exists.
    args.retain(|a| !a.ends_with("broken.nrrd"));
    let s = ok(&iw(&args));
    assert_eq!(s.matches("outputs exist, skipped").count(), 3, "{s}");

    // A lower threshold (the 99.9th percentile of lung1's probabilities) makes lesions to check.
    let prob = iw_io::read_volume(out.join("lung1_image_prob.nrrd")).unwrap().to_f32();
    let mut v: Vec<f32> = prob.data.iter().copied().collect();
    v.sort_by(f32::total_cmp);
    let t = v[v.len() * 999 / 1000].clamp(1e-6, 0.999_999);
    let out2 = dir.path().join("seg-low");
    let ts = t.to_string();
    ok(&iw(&["segment", p(&run), p(&scans[0]), "--out", p(&out2), "--threshold", &ts, "--overlay-png"]));
    let n = check_outputs(&scans[0], &out2, "lung1_image");
    assert!(n > 0, "threshold {t}: lesions to check");
    // The overlay: the axial slice through the top lesion, its mask outline red, the rest grey.
    let dec =
        png::Decoder::new(std::io::BufReader::new(std::fs::File::open(out2.join("lung1_image_overlay.png")).unwrap()));
    let mut reader = dec.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let frame = reader.next_frame(&mut buf).unwrap();
    let z: usize = reader.info().uncompressed_latin1_text[0].text.parse().unwrap();
    let mask = iw_io::read_volume(out2.join("lung1_image_mask.nrrd")).unwrap().to_f32();
    let [_, h, w] = mask.shape_zyx();
    assert_eq!((frame.width as usize, frame.height as usize), (w, h));
    let top = &read_csv(&out2.join("lung1_image_lesions.csv"))[0];
    assert_eq!(z, ((top[9] + top[12]) / 2.0) as usize, "the slice through the middle of lesion 1");
    let slice = mask.data.index_axis(ndarray::Axis(0), z).mapv(|v| u8::from(v > 0.5));
    let mut red = 0;
    for r in 0..h {
        for c in 0..w {
            let px = &buf[(r * w + c) * 3..(r * w + c) * 3 + 3];
            let edge = iw_report::overlay::on_outline(slice.view(), r, c);
            assert_eq!(px == iw_report::overlay::OUTLINE, edge, "({r}, {c})");
            red += usize::from(edge);
        }
    }
    assert!(red > 0, "lesion 1 is outlined on its slice");

    // --scaling is refused for a run with a window; a checkpoint with its config above works.
    let o = iw(&["segment", p(&run), p(&scans[0]), "--out", p(&out2), "--scaling", "zscore"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("drop --scaling"), "{}", text(&o));

    // --roi: the scan cropped to the label's bounding box + 5 voxels; 0 outside it.
    let roi_out = dir.path().join("seg-roi");
    let label = pyradiomics_scan("breast1_label");
    let s = ok(&iw(&["segment", p(&run), p(&scans[2]), "--out", p(&roi_out), "--roi", p(&label)]));
    assert!(s.contains("region of interest: --roi") && s.contains("bounding box + 5 voxels"), "{s}");
    check_outputs(&scans[2], &roi_out, "breast1_image");
    let lab = iw_io::read_volume(&label).unwrap().to_f32();
    let (start, end) = iw_data::prepared::bounding_box(lab.data.view(), 5, |_, &v| v != 0.0).unwrap();
    let prob = iw_io::read_volume(roi_out.join("breast1_image_prob.nrrd")).unwrap().to_f32();
    for ((z, y, x), &v) in prob.data.indexed_iter() {
        let inside =
            (start[0]..end[0]).contains(&z) && (start[1]..end[1]).contains(&y) && (start[2]..end[2]).contains(&x);
        assert!(if inside { v > 0.0 } else { v == 0.0 }, "({z}, {y}, {x}): {v}, ROI {start:?}..{end:?}");
    }
    assert!(end != lab.shape_zyx() || start != [0; 3], "the ROI is smaller than the scan");

    // The raw LiTS case with its liver as --roi: exactly `iw predict`'s probabilities of the
    // prepared case (cropped by `iw prepare lits` to the same box, scaled the same way).
    let raw_out = dir.path().join("seg-raw");
    let (vol, seg) = (data.join("raw/volume-0.nii"), data.join("raw/segmentation-0.nii"));
    ok(&iw(&["segment", p(&run), p(&vol), "--roi", p(&seg), "--out", p(&raw_out)]));
    let ours = iw_io::read_volume(raw_out.join("volume-0_prob.nii")).unwrap().to_f32();
    let predicted = iw_io::read_volume(run.join("test_predictions/0_prob.nii.gz")).unwrap().to_f32();
    let case = iw_data::prepared::PreparedCase::open(&data.join("prepared/cases"), "0").unwrap();
    let (s0, sh) = (case.meta.crop_start_zyx, case.meta.shape_zyx);
    assert_eq!(predicted.shape_zyx(), sh);
    assert!(ours.shape_zyx() != sh, "the raw scan is larger than its crop");
    let crop = ours.data.slice(ndarray::s![s0[0]..s0[0] + sh[0], s0[1]..s0[1] + sh[1], s0[2]..s0[2] + sh[2]]);
    assert_eq!(crop, predicted.data, "segment with --roi = predict on the prepared case");
    assert_eq!(&ours.geometry, iw_io::read_volume(&vol).unwrap().geometry());

    // A run without an intensity window (MR prepared by `iw prepare nnunet`) needs --scaling.
    let config = std::fs::read_to_string(run.join("config.yaml")).unwrap();
    let no_window = config.replace("  window:\n  - -300.0\n  - 300.0\n", "  window: null\n");
    assert_ne!(config, no_window);
    let cfg = dir.path().join("no-window.yaml");
    std::fs::write(&cfg, no_window).unwrap();
    let ck = run.join("checkpoints/final.safetensors");
    let mr_out = dir.path().join("seg-mr");
    let o = iw(&["segment", p(&ck), p(&scans[1]), "--config", p(&cfg), "--out", p(&mr_out)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("give --scaling"), "{}", text(&o));
    let s =
        ok(&iw(&["segment", p(&ck), p(&scans[1]), "--config", p(&cfg), "--out", p(&mr_out), "--scaling", "zscore"]));
    assert!(s.contains("intensities: scaling ZScore"), "{s}");
    check_outputs(&scans[1], &mr_out, "brain1_image");

    // A LUNA16 run: --roi is the seg-lungs-LUNA16 label map, made into the lung mask and crop of
    // `iw prepare luna16`: the probabilities are non-zero exactly in the prepared case's box.
    let luna = dir.path().join("luna");
    ok(&iw(&["synth", "luna16", "--out", p(&luna), "--cases", "2", "--seed", "3", "--shape", "64,64,48"]));
    ok(&iw(&["prepare", "luna16", "--raw", p(&luna), "--out", p(&dir.path().join("luna-prep"))]));
    let luna_cfg = dir.path().join("luna16.yaml");
    std::fs::write(&luna_cfg, config.replace("  name: lits\n", "  name: luna16\n")).unwrap();
    let luna_out = dir.path().join("seg-luna");
    let s = ok(&iw(&[
        "segment",
        p(&ck),
        p(&luna.join("subset0")),
        "--config",
        p(&luna_cfg),
        "--roi",
        p(&luna.join("seg-lungs-LUNA16")),
        "--out",
        p(&luna_out),
    ]));
    assert!(s.contains("LUNA16: labels but the trachea"), "{s}");
    let mut checked = 0;
    for e in std::fs::read_dir(&luna_out).unwrap() {
        let path = e.unwrap().path();
        let Some(uid) = path.file_name().unwrap().to_str().unwrap().strip_suffix("_prob.mhd") else { continue };
        let prob = iw_io::read_volume(&path).unwrap().to_f32();
        let meta = iw_data::prepared::PreparedCase::open(&dir.path().join("luna-prep/cases"), uid).unwrap().meta;
        let (s0, sh) = (meta.crop_start_zyx, meta.shape_zyx);
        assert!(sh != prob.shape_zyx(), "the lungs' box is smaller than the scan");
        for ((z, y, x), &v) in prob.data.indexed_iter() {
            let inside = (s0[0]..s0[0] + sh[0]).contains(&z)
                && (s0[1]..s0[1] + sh[1]).contains(&y)
                && (s0[2]..s0[2] + sh[2]).contains(&x);
            assert_eq!(v > 0.0, inside, "{uid} ({z}, {y}, {x}): {v}; prepared box {s0:?} + {sh:?}");
        }
        checked += 1;
    }
    assert!(checked >= 1, "a LUNA16 scan segmented");

    if cuda_available() {
        let out3 = dir.path().join("seg-cuda");
        let ck = run.join("checkpoints/final.safetensors");
        ok(&iw(&["segment", p(&ck), p(&scans[0]), "--out", p(&out3), "--device", "cuda"]));
        let a = iw_io::read_volume(out.join("lung1_image_prob.nrrd")).unwrap().to_f32();
        let b = iw_io::read_volume(out3.join("lung1_image_prob.nrrd")).unwrap().to_f32();
        let diff = a.data.iter().zip(b.data.iter()).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
        assert!(diff < 1e-3, "CUDA and CPU probabilities differ by {diff}");
    } else {
        iw_test_support::announce("segment on cuda: skipped: no CUDA (ran on the CPU only)");
    }
}
