//! Issue 22 end to end: report.html of the smoke reproduction rendered in headless Chromium,
//! TensorBoard event files read back with the tensorboard package (also across a resume), the
//! binary prediction NIfTI checked with nibabel, and one small-lesion threshold for `iw report`
//! and `iw reproduce`.
use iw_test_support::cli::{ok, Iw};
use iw_test_support::{announce, python, repo_root};
use std::path::Path;
use std::process::{Command, Output};

fn iw(args: &[&str]) -> Output {
    Iw::new(env!("CARGO_BIN_EXE_iw")).in_repo().run(args)
}

fn py(script: &str, args: &[&str]) -> Output {
    Command::new(python()).current_dir(repo_root()).arg(script).args(args).output().expect("running python")
}

fn tfevents_match_csvs(run: &Path) -> serde_json::Value {
    let s = ok(&py("scripts/report/check_tfevents.py", &[run.to_str().unwrap()]));
    serde_json::from_str(s.trim()).unwrap_or_else(|e| panic!("{e}: {s}"))
}

fn lesions_of(records: &Path) -> usize {
    iw_metrics::read_records(records).unwrap().values().flatten().filter(|r| r.is_tum).count()
}

#[test]
fn smoke_reproduction_html_report_tensorboard_and_viewer_files() {
    let dir = tempfile::tempdir().unwrap();
    let (work, out) = (dir.path().join("work"), dir.path().join("results"));
    let (w, o) = (work.to_str().unwrap(), out.to_str().unwrap());
    ok(&iw(&["reproduce", "lits", "--scale", "smoke", "--only", "dl,iwdl", "--work", w, "--out", o]));
    let runs = work.join("runs-smoke/lits");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();

    // TensorBoard: every run's scalars are its CSVs'.
    for m in ["dl", "iwdl"] {
        let counts = tfevents_match_csvs(&runs.join(m).join("experiment_0"));
        assert_eq!(counts["train/loss"], 6, "{m}: 2 epochs x 3 iterations");
    }

    // Viewer files: <case>_pred.nii.gz is uint8 (p > 0.5) on the probability map's grid.
    let preds = runs.join("dl/experiment_0/test_predictions");
    let check = r#"
import sys, nibabel as nib, numpy as np
p, b = nib.load(sys.argv[1]), nib.load(sys.argv[2])
assert b.get_data_dtype() == np.uint8, b.get_data_dtype()
assert p.shape == b.shape, (p.shape, b.shape)
assert np.array_equal(p.affine, b.affine), (p.affine, b.affine)
assert np.array_equal(p.header.get_zooms(), b.header.get_zooms())
assert p.header['qform_code'] == b.header['qform_code'] and p.header['sform_code'] == b.header['sform_code']
pb = np.asarray(p.dataobj) > 0.5
assert np.array_equal(pb, np.asarray(b.dataobj) == 1) and np.isin(np.asarray(b.dataobj), [0, 1]).all()
print(int(pb.sum()))
"#;
    let o = Command::new(python())
        .args(["-c", check])
        .arg(preds.join("0_prob.nii.gz"))
        .arg(preds.join("0_pred.nii.gz"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    // report.html: self-contained, one tile per test lesion.
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    for banned in ["http://", "https://", "<link", "src=\"http"] {
        assert!(!html.contains(banned), "report.html refers outside itself: {banned}");
    }
    let lesions = lesions_of(&runs.join("dl/experiment_0/test_metrics/prc_records.json"));
    assert!(lesions > 0);
    // The lesion gallery's tiles (before the false-positive section).
    let count = |page: &str| {
        page.split("id=\"lesion-tiles\"")
            .nth(1)
            .unwrap()
            .split("id=\"fp-tiles\"")
            .next()
            .unwrap()
            .matches("class=\"tile\"")
            .count()
    };
    assert_eq!(count(&html), lesions, "one tile per test lesion");

    // `iw report --html` stratifies as the reproduction did (the dataset's threshold).
    let rep = dir.path().join("rep");
    let s = ok(&iw(&["report", runs.parent().unwrap().to_str().unwrap(), "--html", "--out", rep.to_str().unwrap()]));
    let t = report["small_below_voxels"].as_f64().unwrap();
    assert!(t < 12.0, "the smoke phantom's equivalent, not the paper's 12 voxels: {t}");
    assert!(s.contains(&format!("(< {t:.2})")), "iw report uses the reproduction's threshold {t:.2}:\n{s}");
    assert!(rep.join("report.html").is_file());
    let full = std::fs::read_to_string(rep.join("report.html")).unwrap();
    assert_eq!(count(&full), lesions, "iw report --html: every tile by default");
    // --html-max-bytes: a page to commit stays within the budget, the gallery keeping the tiles
    // that fit (smallest lesions first) and the rest of the page as before.
    let runs_dir = runs.parent().unwrap().to_str().unwrap();
    let page_with = |max: usize, name: &str| {
        let dir = dir.path().join(name);
        let o =
            iw(&["report", runs_dir, "--html", "--html-max-bytes", &max.to_string(), "--out", dir.to_str().unwrap()]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        (std::fs::read_to_string(dir.join("report.html")).unwrap(), String::from_utf8_lossy(&o.stderr).to_string())
    };
    let (bare, warned) = page_with(1, "rep-1");
    assert_eq!(count(&bare), 0, "no tile fits one byte");
    assert!(bare.contains("id=\"fp-tiles\""), "the gallery's sections are still there");
    assert!(warned.contains("without any lesion tile, over the budget of 1"), "{warned}");
    // A budget between the bare page and the full one: within it, some tiles but not all.
    let mid = bare.len() + (full.len() - bare.len()) / 2;
    let (page, warned) = page_with(mid, "rep-mid");
    assert!(page.len() <= mid, "{} bytes over the budget {mid}", page.len());
    assert!(warned.is_empty(), "{warned}");
    let kept = count(&page);
    assert!(kept > 0 && kept < lesions, "{kept} of {lesions} tiles within {mid} bytes");
    assert!(page.contains(&format!("({kept} of {lesions}, the smallest first")), "the page says how many it kept");
    // A budget the full page fits: every tile, the same page as without one.
    assert_eq!(page_with(full.len(), "rep-full").0, full);
    let e = iw(&["report", runs_dir, "--html-max-bytes", "1"]);
    assert_eq!(e.status.code(), Some(2), "--html-max-bytes without --html is a usage error");

    // In a real browser: no console error, no broken image, the tiles, report.json's numbers.
    if Command::new("chromium").arg("--version").output().is_err() {
        announce("smoke_reproduction_html_report_tensorboard_and_viewer_files: browser check skipped: no chromium");
        return;
    }
    let shot = out.join("report.png");
    let o = py(
        "scripts/report/check_report.py",
        &[
            out.join("report.html").to_str().unwrap(),
            out.join("report.json").to_str().unwrap(),
            "--tiles",
            &lesions.to_string(),
            "--screenshot",
            shot.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "a real screenshot");
    // A broken page is caught: a script error and a broken image.
    let bad = out.join("broken.html");
    std::fs::write(
        &bad,
        html.replace(
            "<script>// Sortable",
            "<script>undefined_function_of_a_broken_page();</script><script>// Sortable",
        )
        .replacen("src=\"data:image/png;base64,", "src=\"data:image/png;base64,AAAA\" data-x=\"", 1),
    )
    .unwrap();
    let o = py(
        "scripts/report/check_report.py",
        &[bad.to_str().unwrap(), out.join("report.json").to_str().unwrap(), "--tiles", &lesions.to_string()],
    );
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(!o.status.success() && text.contains("undefined_function") && text.contains("did not decode"), "{text}");
}

/// A run with a validation case, stopped after one epoch and continued to three: the event file
/// holds every step once, equal to the CSVs, validation included.
#[test]
fn tensorboard_scalars_survive_a_resume() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    ok(&iw(&["reproduce", "lits", "--scale", "smoke", "--data-only", "--work", work.to_str().unwrap()]));
    // The smoke split has no validation case: validate on the training case.
    let prepared = dir.path().join("prepared");
    let src = work.join("lits-synth-smoke/prepared");
    let st = Command::new("cp").arg("-r").arg(&src).arg(&prepared).status().unwrap();
    assert!(st.success());
    let m = std::fs::read_to_string(prepared.join("manifest.yaml")).unwrap();
    std::fs::write(
        prepared.join("manifest.yaml"),
        m.replace("validation: []", "validation:\n  - 0").replace("test:\n  - 0", "test: []"),
    )
    .unwrap();
    let runs = dir.path().join("runs");
    let train = |epochs: &str| {
        ok(&iw(&[
            "train",
            "experiments/lits/dl.yaml",
            "--overlay",
            "experiments/scales/smoke.yaml",
            "--set",
            &format!("dataset.prepared={}", prepared.display()),
            "--set",
            &format!("training.epochs={epochs}"),
            "--out",
            runs.to_str().unwrap(),
        ]))
    };
    train("1");
    let run = runs.join("lits/dl/experiment_0");
    let c = tfevents_match_csvs(&run);
    assert_eq!((c["train/loss"].as_u64(), c["validation/dice"].as_u64()), (Some(3), Some(1)), "{c}");
    // The state a 3-epoch run leaves when it is stopped after its first epoch: its settings say 3
    // epochs, its last checkpoint is epoch 1's (the resume check refuses other settings).
    std::fs::remove_file(run.join("checkpoints/final.safetensors")).unwrap();
    let config = std::fs::read_to_string(run.join("config.yaml")).unwrap();
    assert!(config.contains("epochs: 1\n"), "{config}");
    std::fs::write(run.join("config.yaml"), config.replace("epochs: 1\n", "epochs: 3\n")).unwrap();
    let mut record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("run.json")).unwrap()).unwrap();
    record.as_object_mut().unwrap().remove("config_sha256");
    std::fs::write(run.join("run.json"), record.to_string()).unwrap();
    let s = train("3");
    assert!(s.contains("resuming") || s.contains("train:"), "{s}");
    let c = tfevents_match_csvs(&run);
    assert_eq!((c["train/loss"].as_u64(), c["validation/loss"].as_u64()), (Some(9), Some(3)), "{c}");
}
