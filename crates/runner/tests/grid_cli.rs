//! The experiment grid end to end (`iw grid`, `iw reproduce` through the grid) with the local
//! executor: the same seeds give the same numbers serial or parallel; a failing run fails alone
//! (its error in its run.json and the grid's summary, exit code 3) while the others finish; a run
//! folder held by a live process is left alone (exit code 4) and a dead holder's lock file is
//! taken over; `--report-only` writes a partial report that says so; a grid whose parent was
//! killed leaves orphans that a rerun reports (4), `--wait` waits for (0) and `status --watch`
//! follows to their end; one grid per folder unless `--add`; `status --json` holds its schema.
use iw_test_support::cli::{ok, read, text, Iw};
use iw_test_support::repo_root;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn iw(args: &[&str]) -> Output {
    Iw::new(env!("CARGO_BIN_EXE_iw")).in_repo().run(args)
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
        let s = ok(&iw(&[
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
        let status = ok(&iw(&["grid", "status", work.join("runs-smoke").to_str().unwrap()]));
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
    let smoke = read(&repo_root().join("experiments/scales/smoke.yaml"))
        .replace("prepared: work/lits-synth-smoke/prepared", &format!("prepared: {}", prepared.display()));
    assert!(smoke.contains(&prepared.display().to_string()));
    let body = format!(
        "extends: {}\nname: {name}\n{smoke}",
        repo_root().join(format!("experiments/lits/{loss}.yaml")).display()
    );
    let p = dir.join(file);
    std::fs::write(&p, body).unwrap();
    p
}

#[test]
fn a_failing_run_fails_alone_and_locks_keep_executors_apart() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    ok(&iw(&["reproduce", "lits", "--scale", "smoke", "--data-only", "--work", work.to_str().unwrap()]));
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
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
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
    let status = ok(&iw(&["grid", "status", runs.to_str().unwrap()]));
    // The same table but for the line of the time it was read.
    let timeless = |t: &str| -> Vec<String> {
        t.lines().filter(|l| !l.starts_with("now ")).map(|l| l.trim_end().to_string()).collect()
    };
    assert_eq!(
        timeless(status.trim()),
        timeless(summary.trim_start_matches("# Grid summary\n\n```text\n").trim_end_matches("```\n").trim())
    );
    // The failed row shows its error's first line; the done row its steps and epochs.
    assert!(
        status.lines().any(|l| l.contains("done     lits/good/experiment_0") && l.contains("6/6") && l.contains("2/2")),
        "{status}"
    );

    // A live holder of the bad run's lock: the grid leaves that run alone and says so.
    let lock = std::fs::OpenOptions::new().write(true).open(bad_dir.join(".iw-lock")).unwrap();
    lock.lock().unwrap();
    std::fs::write(bad_dir.join(".iw-lock"), "pid 4242 host the-test since 0\n").unwrap();
    let status = ok(&iw(&["grid", "status", runs.to_str().unwrap()]));
    assert!(
        status.contains("running  lits/bad/experiment_0") && status.contains("pid 4242 on the-test since"),
        "{status}"
    );
    // Not done while it runs elsewhere: exit code 4, one line naming it.
    let o = run(&[]);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    let s = String::from_utf8_lossy(&o.stdout);
    assert!(s.contains("1 running elsewhere, 0 to run") && s.contains("skipped, running elsewhere: lits/bad"), "{s}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("1 of 2 runs are still running elsewhere (lits/bad/experiment_0 (pid 4242 host the-test")
            && err.lines().count() == 1,
        "{err}"
    );
    // `run-one` refuses a held run and says who holds it.
    let o = iw(&["grid", "run-one", runs.join("grid.json").to_str().unwrap(), "--index", "0"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("in use by pid 4242 host the-test"), "{}", text(&o));

    // The holder dies (its lock file stays, with a dead pid): the lock is stale, the bad run is
    // tried again (and fails again, alone); the good run is done and not rerun.
    drop(lock);
    let before = read(&good_dir.join("run.json"));
    let o = run(&["--jobs", "1"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
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
    ok(&run(&["--jobs", "2"]));
    let full = read(&out.join("report.json"));
    // Undo one run's evaluation: pending again.
    std::fs::remove_dir_all(work.join("runs-smoke/lits/iwdl/experiment_0/test_metrics")).unwrap();
    let mut rj: serde_json::Value =
        serde_json::from_str(&read(&work.join("runs-smoke/lits/iwdl/experiment_0/run.json"))).unwrap();
    rj["stages"].as_object_mut().unwrap().remove("evaluate");
    std::fs::write(work.join("runs-smoke/lits/iwdl/experiment_0/run.json"), rj.to_string()).unwrap();
    // A partial report, which says so at its top, and exit code 3 (a run did not run).
    let o = run(&["--report-only"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let s = String::from_utf8_lossy(&o.stdout);
    assert!(s.contains("1 of 2 runs did not finish"), "{s}");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("1 of 2 runs did not run (lits/iwdl/experiment_0)"),
        "{}",
        text(&o)
    );
    let readme = read(&out.join("README.md"));
    assert!(
        readme.starts_with("**PARTIAL REPORT: 1 of 2 runs did not finish (lits/iwdl/experiment_0: pending)"),
        "{readme}"
    );
    assert!(
        readme.contains("## Runs that did not finish (1 of 2")
            && readme.contains("| lits/iwdl/experiment_0 | pending |")
    );
    assert!(read(&out.join("report.html")).contains("PARTIAL REPORT: 1 of 2 runs"));
    let report: serde_json::Value = serde_json::from_str(&read(&out.join("report.json"))).unwrap();
    assert_eq!(report["complete"], false);
    assert_eq!(report["unfinished_runs"][0]["run"], "lits/iwdl/experiment_0");
    let pooled = &report["rules"]["overlap"]["pooled"];
    assert!(pooled.get("iwdl").is_none() && pooled.get("dl").is_some());
    // Rerunning the command runs only the missing stage, and the report is whole again.
    let s = ok(&run(&[]));
    assert!(s.contains("1 done, 0 running elsewhere, 1 to run"), "{s}");
    assert_eq!(read(&out.join("report.json")), full);
    assert!(full.contains("\"complete\": true"));
    assert!(!read(&out.join("README.md")).contains("PARTIAL"));
}

/// SIGINT sent to the grid's own process (a `kill -INT`, a scheduler; not a terminal's Ctrl-C,
/// which reaches the whole process group) reaches its runs: each writes its checkpoint and
/// stops, the grid exits with 130, and rerunning the same command finishes both runs from
/// their checkpoints.
#[test]
fn sigint_to_the_grid_process_stops_its_runs_and_a_rerun_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    ok(&iw(&["reproduce", "lits", "--scale", "smoke", "--data-only", "--work", work.to_str().unwrap()]));
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
        .current_dir(repo_root())
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
    let status = ok(&iw(&["grid", "status", runs.to_str().unwrap()]));
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
    let s = ok(&iw(&args));
    assert!(s.contains("2 to run"), "{s}");
    let status = ok(&iw(&["grid", "status", runs.to_str().unwrap()]));
    assert!(status.contains("2 done"), "{status}");
    for l in &logs {
        let steps = read(l).lines().filter(|r| !r.starts_with("step")).count();
        assert!(steps >= 600, "{}: {steps} steps", l.display());
    }
}

/// `iw grid status DIR --json`, checked against crates/runner/grid-status.schema.json by Python's
/// jsonschema.
fn status_json(runs: &Path) -> serde_json::Value {
    let s = ok(&iw(&["grid", "status", runs.to_str().unwrap(), "--json"]));
    let v: serde_json::Value = serde_json::from_str(&s).unwrap_or_else(|e| panic!("{e}: {s}"));
    iw_test_support::check_json_schema(&repo_root().join("crates/runner/grid-status.schema.json"), &v);
    v
}

/// The issue's first defect: the parent of a grid is killed (SIGKILL: a closed terminal, the OOM
/// killer); its runs go on as orphans. Rerunning the command while they run exits 4 naming them
/// (not 0); `status --json` shows them running with host, pid, steps and ETA; `--wait` returns 0
/// once they finish and `status --watch` ends with them; the records equal an uninterrupted
/// grid's.
#[test]
fn a_killed_parents_orphans_are_not_done_until_they_finish() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    ok(&iw(&["reproduce", "lits", "--scale", "smoke", "--data-only", "--work", work.to_str().unwrap()]));
    let prepared = work.join("lits-synth-smoke/prepared");
    let a = smoke_experiment(dir.path(), "a.yaml", "dl", "a", &prepared);
    let b = smoke_experiment(dir.path(), "b.yaml", "iwdl", "b", &prepared);
    // Long enough (6 x 20 steps) to outlive the checks below while the orphans run.
    let (epochs, iterations) = (6u64, 20u64);
    let args = |out: &Path, extra: &[&str]| -> Vec<String> {
        let e = format!("training.epochs={epochs}");
        let i = format!("training.iterations={iterations}");
        ["grid", a.to_str().unwrap(), b.to_str().unwrap(), "--jobs", "2", "--set", &e, "--set", &i, "--out"]
            .iter()
            .map(|s| s.to_string())
            .chain([out.to_str().unwrap().to_string()])
            .chain(extra.iter().map(|s| s.to_string()))
            .collect()
    };
    let spawn = |a: &[String]| {
        Command::new(env!("CARGO_BIN_EXE_iw"))
            .current_dir(repo_root())
            .args(a)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (reference, runs) = (dir.path().join("reference"), dir.path().join("runs"));
    let names = ["lits/a/experiment_0", "lits/b/experiment_0"];
    let parent = spawn(&args(&runs, &[]));
    let logs: Vec<PathBuf> = names.iter().map(|n| runs.join(n).join("train_log.csv")).collect();
    let t0 = std::time::Instant::now();
    while !logs.iter().all(|l| l.exists()) {
        assert!(t0.elapsed().as_secs() < 120, "the runs did not start");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // SAFETY: kill(2) on our own child's PID, not yet waited for.
    unsafe { libc::kill(parent.id() as libc::pid_t, libc::SIGKILL) };
    let o = parent.wait_with_output().unwrap();
    assert_eq!(o.status.code(), None, "killed by a signal: {}", text(&o));

    // The same command again: both runs are held by the orphans: exit code 4, one line naming them.
    let o = Command::new(env!("CARGO_BIN_EXE_iw")).current_dir(repo_root()).args(args(&runs, &[])).output().unwrap();
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("2 running elsewhere, 0 to run"), "{out}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.lines().count() == 1 && err.contains("2 of 2 runs are still running elsewhere (lits/a/experiment_0 (pid "),
        "{err}"
    );
    assert!(err.contains("lits/b/experiment_0 (pid ") && err.contains("--wait waits for them"), "{err}");

    // Their status, while they run.
    let v = status_json(&runs);
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap().trim().to_string();
    assert_eq!(v["totals"]["running"], 2, "{v:#}");
    assert_eq!(v["totals"]["ended"], false);
    assert_eq!(v["totals"]["executor_alive"], false, "the parent is dead");
    for r in v["runs"].as_array().unwrap() {
        assert_eq!(r["state"], "running", "{r:#}");
        assert_eq!(r["host"], host.as_str());
        let pid = r["pid"].as_u64().unwrap();
        assert!(std::path::Path::new(&format!("/proc/{pid}")).exists(), "pid {pid} is not alive");
        assert_eq!(r["total_steps"], epochs * iterations);
        assert_eq!(r["total_epochs"], epochs);
        let step = r["step"].as_u64().unwrap();
        assert!(step >= iterations && step < epochs * iterations, "{r:#}");
        assert!(r["train_loss"].as_f64().unwrap().is_finite());
        assert!(
            r["remaining_s"].as_f64().unwrap() > 0.0
                && r["eta_unix"].as_u64().unwrap() >= v["now_unix"].as_u64().unwrap()
        );
        assert!(r["started_unix"].as_u64().unwrap() <= v["now_unix"].as_u64().unwrap());
        // The smoke split has no validation case with a lesion: no validation rows.
        assert!(r["validation"].is_null(), "{r:#}");
    }
    assert!(v["totals"]["eta_unix"].as_u64().unwrap() >= v["now_unix"].as_u64().unwrap());
    let table = ok(&iw(&["grid", "status", runs.to_str().unwrap()]));
    assert!(
        table.contains("2 running") && table.contains(&format!("on {host} since")) && table.contains("grid ETA"),
        "{table}"
    );

    // `--watch` follows the grid to its end; `--wait` waits for the orphans and returns 0.
    let watch = Command::new(env!("CARGO_BIN_EXE_iw"))
        .current_dir(repo_root())
        .args(["grid", "status", runs.to_str().unwrap(), "--watch", "--interval", "0.5"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let waited = spawn(&args(&runs, &["--wait"]));
    let o = waited.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("waiting for it, running elsewhere: lits/a/experiment_0") && out.contains("2 runs: 2 done"),
        "{out}"
    );
    let o = watch.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let frames = String::from_utf8_lossy(&o.stdout);
    let first = frames.find("2 running").unwrap_or_else(|| panic!("no frame while they ran: {frames}"));
    let last = frames.rfind("2 runs: 2 done, 0 running").unwrap_or_else(|| panic!("no final frame: {frames}"));
    assert!(first < last && frames[last..].contains("nothing is running"), "{frames}");

    // The orphans' records are those of a grid nobody killed.
    ok(&iw(&args(&reference, &[]).iter().map(String::as_str).collect::<Vec<_>>()));
    for n in names {
        for f in ["test_metrics/prc_records.json", "test_metrics/dice.json"] {
            let p = format!("{n}/{f}");
            assert_eq!(read(&runs.join(&p)), read(&reference.join(&p)), "{p}");
        }
        let strip = |t: String| -> Vec<String> {
            t.lines().map(|l| l.rsplit_once(',').map_or(l, |(h, _)| h).to_string()).collect()
        };
        let p = format!("{n}/train_log.csv");
        assert_eq!(strip(read(&runs.join(&p))), strip(read(&reference.join(&p))), "{p}");
    }
    let v = status_json(&runs);
    assert_eq!((v["totals"]["done"].as_u64(), v["totals"]["ended"].as_bool()), (Some(2), Some(true)));
    assert!(v["runs"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["step"] == epochs * iterations && r["elapsed_s"].as_f64().unwrap() > 0.0));
}

/// The issue's second defect: a different grid into a folder that holds one is refused with one
/// line naming both (grid.json untouched); `--add` merges it, each run keeping its own settings,
/// and `status` lists every run. (The runs point at no data: they fail at once, exit code 3.)
#[test]
fn a_second_grid_is_refused_unless_added() {
    let dir = tempfile::tempdir().unwrap();
    let none = dir.path().join("no-data");
    let x = smoke_experiment(dir.path(), "x.yaml", "dl", "x", &none);
    let y = smoke_experiment(dir.path(), "y.yaml", "iwdl", "y", &none);
    let z = smoke_experiment(dir.path(), "z.yaml", "dl", "z", &none);
    let runs = dir.path().join("runs");
    let r = runs.to_str().unwrap();
    let grid = |files: &[&PathBuf], extra: &[&str]| -> Output {
        let mut a: Vec<&str> = vec!["grid"];
        a.extend(files.iter().map(|f| f.to_str().unwrap()));
        a.extend_from_slice(&["--out", r]);
        a.extend_from_slice(extra);
        iw(&a)
    };
    let o = grid(&[&x, &y], &[]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let first = read(&runs.join("grid.json"));

    // Another grid: refused, one line naming both grids; grid.json unchanged.
    let o = grid(&[&z], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("grid.json holds another grid (")
            && err.contains("x.yaml, ")
            && err.contains("y.yaml x 1 seed(s)")
            && err.contains("z.yaml x 1 seed(s)")
            && err.contains("--add"),
        "{err}"
    );
    assert_eq!(read(&runs.join("grid.json")), first);
    // Other settings or seeds make another grid too; a part of the same grid does not.
    assert_eq!(grid(&[&x, &y], &["--set", "training.epochs=3"]).status.code(), Some(2));
    assert_eq!(grid(&[&x, &y], &["--seeds", "2"]).status.code(), Some(2));
    assert_eq!(read(&runs.join("grid.json")), first);
    let o = grid(&[&x], &[]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("1 runs, 0 done, 0 running elsewhere, 1 to run"),
        "{}",
        text(&o)
    );
    assert_eq!(read(&runs.join("grid.json")), first);

    // --add: the union, each run with its own settings; this command runs (and answers for) its own.
    let o = grid(&[&z], &["--add", "--set", "training.epochs=7"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("1 of 1 runs failed (lits/z/experiment_0;"), "{err}");
    let g: serde_json::Value = serde_json::from_str(&read(&runs.join("grid.json"))).unwrap();
    let listed: Vec<(&str, usize)> = g["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["name"].as_str().unwrap(), r["sets"].as_array().unwrap().len()))
        .collect();
    assert_eq!(listed, [("lits/x/experiment_0", 0), ("lits/y/experiment_0", 0), ("lits/z/experiment_0", 1)]);
    assert_eq!(g["runs"][2]["sets"][0], "training.epochs=7");
    // The same run with other settings cannot be added.
    let o = grid(&[&z], &["--add", "--set", "training.epochs=8"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("run lits/z/experiment_0 is already in it with other settings"),
        "{}",
        text(&o)
    );
    // Status lists every run on disk, with the first line of each error.
    let status = ok(&iw(&["grid", "status", r]));
    assert!(status.starts_with(&format!("{r}: 3 runs: 0 done, 0 running, 3 failed, 0 pending")), "{status}");
    for n in ["x", "y", "z"] {
        assert!(status.contains(&format!("failed   lits/{n}/experiment_0")), "{status}");
    }
    let v = status_json(&runs);
    assert_eq!(v["totals"]["failed"], 3);
    assert_eq!(v["totals"]["ended"], true);
    for run in v["runs"].as_array().unwrap() {
        let e = run["error"].as_str().unwrap();
        assert!(e.contains("not a prepared dataset") && !e.contains('\n'), "{e}");
        assert!(run["step"] == 0 && run["total_steps"].as_u64().is_some(), "{run:#}");
    }
    assert_eq!(v["runs"][2]["total_epochs"], 7, "z's own settings");
    // `--watch` on a grid where nothing runs draws once and exits with the grid's code.
    let o = iw(&["grid", "status", r, "--watch", "--interval", "0.2"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout).matches("3 runs:").count(), 1, "{}", text(&o));
}
