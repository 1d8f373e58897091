//! The experiment grid end to end (`iw grid`, `iw reproduce` through the grid) with the local
//! executor: the same seeds give the same numbers serial or parallel; a failing run fails alone
//! (its error in its run.json and the grid's summary) while the others finish; a run folder held
//! by a live process is left alone and a dead holder's lock file is taken over; `--report-only`
//! reports what finished and lists the rest.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

fn iw(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_iw")).current_dir(repo()).args(args).output().expect("running iw")
}

fn text(o: &Output) -> String {
    format!("stdout:\n{}\nstderr:\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn ok(o: Output) -> String {
    assert!(o.status.success(), "{}", text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// `iw reproduce lits --scale smoke` of two configurations x two seeds, serial (--jobs 1) and two
/// at a time (--jobs 2), one libtorch thread per run in both: the records, the Dice files and the
/// report are byte for byte the same.
#[test]
fn serial_and_parallel_grids_give_identical_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let mut reports = Vec::new();
    for jobs in ["1", "2"] {
        let work = dir.path().join(format!("work-{jobs}"));
        let out = dir.path().join(format!("results-{jobs}"));
        let s = ok(iw(&[
            "reproduce",
            "lits",
            "--scale",
            "smoke",
            "--seeds",
            "2",
            "--only",
            "dl,iwdl",
            "--jobs",
            jobs,
            "--threads",
            "1",
            "--work",
            work.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]));
        assert!(s.contains(&format!("4 to run, {jobs} at a time")), "{s}");
        let grid = read(&work.join("runs-smoke/grid.json"));
        assert_eq!(grid.matches("\"seed_index\"").count(), 4, "{grid}");
        let status = ok(iw(&["grid", "status", work.join("runs-smoke").to_str().unwrap()]));
        assert!(status.contains("4 runs: 4 done, 0 running, 0 failed, 0 pending"), "{status}");
        reports.push((work, out));
    }
    let (a, b) = (&reports[0], &reports[1]);
    for m in ["dl", "iwdl"] {
        for k in 0..2 {
            for f in ["test_metrics/prc_records.json", "test_metrics/dice.json", "train_log.csv"] {
                let p = format!("runs-smoke/lits/{m}/experiment_{k}/{f}");
                let (x, y) = (read(&a.0.join(&p)), read(&b.0.join(&p)));
                if f == "train_log.csv" {
                    // The last column is the step's wall time; step, epoch, lr and loss must agree.
                    let strip = |t: &str| -> Vec<String> {
                        t.lines().map(|l| l.rsplit_once(',').map_or(l, |(h, _)| h).to_string()).collect()
                    };
                    assert_eq!(strip(&x), strip(&y), "{p}");
                } else {
                    assert_eq!(x, y, "{p} differs between --jobs 1 and --jobs 2");
                }
            }
        }
    }
    assert_eq!(read(&a.1.join("report.json")), read(&b.1.join("report.json")));
    assert_eq!(read(&a.1.join("table.csv")), read(&b.1.join("table.csv")));
    // Seeds differ: seed 1's records are not seed 0's.
    let p = |k: usize| a.0.join(format!("runs-smoke/lits/dl/experiment_{k}/train_log.csv"));
    assert_ne!(read(&p(0)), read(&p(1)));
}

/// An experiment file for the smoke data: `extends` the repository's LiTS `loss` file, the
/// smoke scale's settings, the given prepared folder and method name.
fn smoke_experiment(dir: &Path, file: &str, loss: &str, name: &str, prepared: &Path) -> PathBuf {
    let smoke = read(&repo().join("experiments/scales/smoke.yaml"))
        .replace("prepared: work/lits-synth-smoke/prepared", &format!("prepared: {}", prepared.display()));
    assert!(smoke.contains(&prepared.display().to_string()));
    let body =
        format!("extends: {}\nname: {name}\n{smoke}", repo().join(format!("experiments/lits/{loss}.yaml")).display());
    let p = dir.join(file);
    std::fs::write(&p, body).unwrap();
    p
}

#[test]
fn a_failing_run_fails_alone_and_locks_keep_executors_apart() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    ok(iw(&["reproduce", "lits", "--scale", "smoke", "--data-only", "--work", work.to_str().unwrap()]));
    let prepared = work.join("lits-synth-smoke/prepared");
    let good = smoke_experiment(dir.path(), "good.yaml", "dl", "good", &prepared);
    let bad = smoke_experiment(dir.path(), "bad.yaml", "dl", "bad", &dir.path().join("no-such-data"));
    let runs = dir.path().join("runs");
    let args = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> =
            ["grid", bad.to_str().unwrap(), good.to_str().unwrap(), "--out", runs.to_str().unwrap()]
                .iter()
                .map(|s| s.to_string())
                .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let run = |extra: &[&str]| {
        let a = args(extra);
        iw(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let o = run(&["--jobs", "2"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("1 of 2 runs failed (lits/bad/experiment_0"), "{err}");
    // The good run finished; the bad one's error is in its run.json and in the summary.
    let good_dir = runs.join("lits/good/experiment_0");
    let bad_dir = runs.join("lits/bad/experiment_0");
    assert!(good_dir.join("test_metrics/prc_records.json").is_file());
    let rj: serde_json::Value = serde_json::from_str(&read(&bad_dir.join("run.json"))).unwrap();
    let msg = rj["error"]["message"].as_str().unwrap().to_string();
    assert!(msg.contains("no-such-data") && msg.contains("not a prepared dataset"), "{msg}");
    assert!(read(&bad_dir.join("grid.log")).contains("not a prepared dataset"));
    let summary = read(&runs.join("grid-summary.md"));
    assert!(summary.contains("2 runs: 1 done, 0 running, 1 failed, 0 pending"), "{summary}");
    assert!(
        summary.contains("failed   lits/bad/experiment_0") && summary.contains("not a prepared dataset"),
        "{summary}"
    );
    let status = ok(iw(&["grid", "status", runs.to_str().unwrap()]));
    assert_eq!(
        status.trim(),
        summary.trim_start_matches("# Grid summary\n\n```text\n").trim_end_matches("```\n").trim()
    );

    // A live holder of the bad run's lock: the grid leaves that run alone and says so.
    let lock = std::fs::OpenOptions::new().write(true).open(bad_dir.join(".iw-lock")).unwrap();
    lock.lock().unwrap();
    std::fs::write(bad_dir.join(".iw-lock"), "pid 4242 host the-test since 0\n").unwrap();
    let status = ok(iw(&["grid", "status", runs.to_str().unwrap()]));
    assert!(status.contains("running  lits/bad/experiment_0") && status.contains("pid 4242 host the-test"), "{status}");
    let o = run(&[]);
    assert!(o.status.success(), "{}", text(&o));
    let s = String::from_utf8_lossy(&o.stdout);
    assert!(s.contains("1 running elsewhere, 0 to run") && s.contains("skipped, running elsewhere: lits/bad"), "{s}");
    // `run-one` refuses a held run and says who holds it.
    let o = iw(&["grid", "run-one", runs.join("grid.json").to_str().unwrap(), "--index", "0"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("in use by pid 4242 host the-test"), "{}", text(&o));

    // The holder dies (its lock file stays, with a dead pid): the lock is stale, the bad run is
    // tried again (and fails again, alone); the good run is done and not rerun.
    drop(lock);
    let before = read(&good_dir.join("run.json"));
    let o = run(&["--jobs", "1"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let s = String::from_utf8_lossy(&o.stdout);
    assert!(s.contains("1 done, 0 running elsewhere, 1 to run"), "{s}");
    assert_eq!(read(&good_dir.join("run.json")), before);
    assert!(read(&bad_dir.join(".iw-lock")).starts_with("pid "));
    assert!(!read(&bad_dir.join(".iw-lock")).contains("the-test"));

    // Two experiments in one folder are refused before anything runs.
    let twin = smoke_experiment(dir.path(), "twin.yaml", "iwdl", "good", &prepared);
    let o = iw(&["grid", good.to_str().unwrap(), twin.to_str().unwrap(), "--out", runs.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("both run in"), "{}", text(&o));
}

/// `iw reproduce --report-only` rebuilds the results from the runs on disk and lists those that
/// did not finish instead of failing.
#[test]
fn report_only_reports_what_finished_and_lists_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let (work, out) = (dir.path().join("work"), dir.path().join("results"));
    let base = ["reproduce", "lits", "--scale", "smoke", "--only", "dl,iwdl", "--work", work.to_str().unwrap()];
    let with = |extra: &[&str]| -> Vec<String> {
        base.iter().chain(extra).map(|s| s.to_string()).chain(["--out".into(), out.to_str().unwrap().into()]).collect()
    };
    let run = |extra: &[&str]| iw(&with(extra).iter().map(String::as_str).collect::<Vec<_>>());
    ok(run(&["--jobs", "2"]));
    let full = read(&out.join("report.json"));
    // Undo one run's evaluation: pending again.
    std::fs::remove_dir_all(work.join("runs-smoke/lits/iwdl/experiment_0/test_metrics")).unwrap();
    let mut rj: serde_json::Value =
        serde_json::from_str(&read(&work.join("runs-smoke/lits/iwdl/experiment_0/run.json"))).unwrap();
    rj["stages"].as_object_mut().unwrap().remove("evaluate");
    std::fs::write(work.join("runs-smoke/lits/iwdl/experiment_0/run.json"), rj.to_string()).unwrap();
    let s = ok(run(&["--report-only"]));
    assert!(s.contains("1 of 2 runs did not finish"), "{s}");
    let readme = read(&out.join("README.md"));
    assert!(
        readme.contains("## Runs that did not finish (1 of 2")
            && readme.contains("| lits/iwdl/experiment_0 | pending |")
    );
    let report: serde_json::Value = serde_json::from_str(&read(&out.join("report.json"))).unwrap();
    assert_eq!(report["unfinished_runs"][0]["run"], "lits/iwdl/experiment_0");
    let pooled = &report["rules"]["overlap"]["pooled"];
    assert!(pooled.get("iwdl").is_none() && pooled.get("dl").is_some());
    // Rerunning the command runs only the missing stage, and the report is whole again.
    let s = ok(run(&[]));
    assert!(s.contains("1 done, 0 running elsewhere, 1 to run"), "{s}");
    assert_eq!(read(&out.join("report.json")), full);
}

/// SIGINT sent to the grid's own process (a `kill -INT`, a scheduler; not a terminal's Ctrl-C,
/// which reaches the whole process group) reaches its runs: each writes its checkpoint and
/// stops, the grid exits with 130, and rerunning the same command finishes both runs from
/// their checkpoints.
#[test]
fn sigint_to_the_grid_process_stops_its_runs_and_a_rerun_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    ok(iw(&["reproduce", "lits", "--scale", "smoke", "--data-only", "--work", work.to_str().unwrap()]));
    let prepared = work.join("lits-synth-smoke/prepared");
    let a = smoke_experiment(dir.path(), "a.yaml", "dl", "a", &prepared);
    let b = smoke_experiment(dir.path(), "b.yaml", "iwdl", "b", &prepared);
    let runs = dir.path().join("runs");
    // Long enough (600 steps) to be interrupted mid-training.
    let args = [
        "grid",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--jobs",
        "2",
        "--set",
        "training.epochs=200",
        "--out",
        runs.to_str().unwrap(),
    ];
    let child = Command::new(env!("CARGO_BIN_EXE_iw"))
        .current_dir(repo())
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let logs = [runs.join("lits/a/experiment_0/train_log.csv"), runs.join("lits/b/experiment_0/train_log.csv")];
    let t0 = std::time::Instant::now();
    // Both runs have written a checkpoint (end of their first epoch).
    while !logs.iter().all(|l| l.exists()) && t0.elapsed().as_secs() < 120 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // SAFETY: kill(2) on our own child's PID, not yet waited for.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", text(&o));
    let status = ok(iw(&["grid", "status", runs.to_str().unwrap()]));
    assert!(status.contains("0 done") && status.contains("2 pending"), "{status}");
    for l in &logs {
        let last = l.with_file_name("checkpoints/last.safetensors");
        assert!(last.exists(), "{}: no checkpoint after the interrupt", last.display());
        assert!(
            !l.with_file_name("checkpoints/final.safetensors").exists(),
            "{}: finished before the signal",
            l.display()
        );
    }
    let s = ok(iw(&args));
    assert!(s.contains("2 to run"), "{s}");
    let status = ok(iw(&["grid", "status", runs.to_str().unwrap()]));
    assert!(status.contains("2 done"), "{status}");
    for l in &logs {
        let steps = read(l).lines().filter(|r| !r.starts_with("step")).count();
        assert!(steps >= 600, "{}: {steps} steps", l.display());
    }
}
