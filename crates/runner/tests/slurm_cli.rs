//! The SLURM executor against a real SLURM: a one-node cluster on this machine
//! (scripts/slurm/start.sh, stopped by scripts/slurm/stop.sh at the end). The smoke grid submitted
//! with `--executor slurm` gives the local executor's report; a cancelled task is picked up by
//! rerunning the command; a task warned before its time limit (SIGUSR1) checkpoints, requeues
//! itself and finishes with the numbers of an uninterrupted run. A submission exits 4 (runs
//! queued elsewhere) unless `--wait`, which returns 0 once the array and its report job are done;
//! `iw grid status` shows each run's array task state (squeue). Without SLURM installed
//! (`make slurm-setup`) it says `skipped: no SLURM` on stderr, uncaptured.
use iw_test_support::cli::{ok, read, text, Iw};
use iw_test_support::repo_root;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// A cluster started for one test, stopped (jobs cancelled, its daemons ended) when dropped.
struct Cluster {
    dir: PathBuf,
    conf: PathBuf,
}

impl Cluster {
    fn start(dir: &Path, what: &str) -> Option<Cluster> {
        // Ports of our own, so that another cluster on this machine does not answer.
        // (The two tests run at once, each with its own cluster.)
        let offset: u16 = if what.contains("requeue") { 20000 } else { 0 };
        let base = 20000 + (std::process::id() % 10000) as u16 * 2 + offset;
        let o = Command::new(repo_root().join("scripts/slurm/start.sh"))
            .arg(dir)
            .env("IW_SLURMCTLD_PORT", base.to_string())
            .env("IW_SLURMD_PORT", (base + 1).to_string())
            .output()
            .unwrap();
        if o.status.code() == Some(3) {
            iw_test_support::announce(&format!(
                "{what}: skipped: no SLURM ({})",
                String::from_utf8_lossy(&o.stderr).trim()
            ));
            return None;
        }
        assert!(o.status.success(), "{}", text(&o));
        Some(Cluster { dir: dir.to_path_buf(), conf: dir.join("slurm.conf") })
    }

    fn iw(&self, args: &[&str]) -> Output {
        Iw::new(env!("CARGO_BIN_EXE_iw"))
            .in_repo()
            .command()
            .env("SLURM_CONF", &self.conf)
            .args(args)
            .output()
            .expect("running iw")
    }

    fn cmd(&self, prog: &str, args: &[&str]) -> Output {
        Command::new(prog).env("SLURM_CONF", &self.conf).args(args).output().unwrap()
    }

    /// Waits until `job` has left the queue (five minutes at most).
    fn wait(&self, job: &str) {
        let t0 = Instant::now();
        loop {
            let o = self.cmd("squeue", &["-h", "-o", "%A %T", "-j", job]);
            if String::from_utf8_lossy(&o.stdout).trim().is_empty() {
                return;
            }
            assert!(t0.elapsed() < Duration::from_secs(300), "job {job} still queued after 5 min");
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(repo_root().join("scripts/slurm/stop.sh")).arg(&self.dir).output();
    }
}

/// The stdout of a submission, which exits 4: its runs are queued in SLURM, not done.
fn submitted(o: Output) -> String {
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("still running elsewhere") && err.contains("(SLURM task "), "{err}");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// (array job, report job) from `iw grid --executor slurm`'s answer.
fn job_ids(stdout: &str) -> (String, String) {
    let after = |key: &str| -> String {
        let i = stdout.find(key).unwrap_or_else(|| panic!("no {key:?} in {stdout}")) + key.len();
        stdout[i..].chars().take_while(|c| c.is_ascii_digit()).collect()
    };
    (after("SLURM array job "), after("report job "))
}

fn grid_args<'a>(prepared: &'a str, out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![
        "grid",
        "experiments/lits/dl.yaml",
        "experiments/lits/iwdl.yaml",
        "--overlay",
        "experiments/scales/smoke.yaml",
        "--set",
        prepared,
        "--seeds",
        "2",
        "--threads",
        "1",
        "--out",
        out,
    ];
    v.extend_from_slice(extra);
    v
}

#[test]
fn slurm_grid_gives_the_local_report_and_a_cancelled_task_is_resubmitted() {
    let dir = tempfile::tempdir().unwrap();
    let Some(c) = Cluster::start(&dir.path().join("slurm"), "slurm_grid") else { return };
    let work = dir.path().join("work");
    ok(&c.iw(&["reproduce", "lits", "--scale", "smoke", "--data-only", "--work", work.to_str().unwrap()]));
    let prepared = format!("dataset.prepared={}", work.join("lits-synth-smoke/prepared").display());
    let (local, remote) = (dir.path().join("local"), dir.path().join("remote"));
    let (ls, rs) = (local.to_str().unwrap(), remote.to_str().unwrap());
    ok(&c.iw(&grid_args(&prepared, ls, &[])));
    ok(&c.iw(&["report", ls, "--out", local.join("report").to_str().unwrap()]));

    // One task at a time; the last one cancelled while it waits.
    let s = submitted(c.iw(&grid_args(&prepared, rs, &["--executor", "slurm", "--max-parallel", "1"])));
    assert!(s.contains("submitted 4 run(s) of 4"), "{s}");
    let (array, report) = job_ids(&s);
    ok(&c.cmd("scancel", &[&format!("{array}_3")]));
    // Status shows each run's array task and its state from squeue. A task cancelled before it
    // started leaves no record in SLURM (this cluster keeps no accounting): ENDED.
    let v: serde_json::Value = serde_json::from_str(&ok(&c.iw(&["grid", "status", rs, "--json"]))).unwrap();
    iw_test_support::check_json_schema(&repo_root().join("crates/runner/grid-status.schema.json"), &v);
    for (i, r) in v["runs"].as_array().unwrap().iter().enumerate() {
        assert_eq!(r["slurm"]["id"], format!("{array}_{i}"), "{r:#}");
        let st = r["slurm"]["state"].as_str().unwrap();
        let expect: &[&str] = if i == 3 { &["ENDED"] } else { &["PENDING", "RUNNING", "COMPLETING", "COMPLETED"] };
        assert!(expect.contains(&st), "run {i}: {st}");
    }
    // Run 2 waits behind the throttle (one task at a time): queued in SLURM, the grid not ended.
    assert_eq!(v["runs"][2]["slurm"]["state"], "PENDING", "{v:#}");
    assert!(v["totals"]["queued"].as_u64().unwrap() >= 1 && v["totals"]["ended"] == false, "{v:#}");
    let script = read(&remote.join("slurm/array.sbatch"));
    assert!(script.contains("#SBATCH --array=0,1,2,3%1") && script.contains("#SBATCH --signal=B:USR1@120"), "{script}");
    c.wait(&report);
    // The report job ran although a task was cancelled, and says what is missing.
    let summary = read(&remote.join("grid-summary.md"));
    assert!(summary.contains("4 runs: 3 done, 0 running, 0 failed, 1 pending"), "{summary}");
    assert!(summary.contains("pending  lits/iwdl/experiment_1"), "{summary}");
    assert!(read(&remote.join("lits/dl/experiment_0/grid.log")).contains("=== slurm job"));
    let status = ok(&c.iw(&["grid", "status", rs]));
    assert!(
        status.contains(&format!("SLURM {array}_0 COMPLETED")) && status.contains(&format!("SLURM {array}_3 ENDED")),
        "{status}"
    );

    // The same command again submits only the cancelled run; --wait returns 0 once it is done
    // and the report job has ended.
    let s = ok(&c.iw(&grid_args(&prepared, rs, &["--executor", "slurm", "--max-parallel", "1", "--wait"])));
    assert!(s.contains("submitted 1 run(s) of 4"), "{s}");
    assert!(read(&remote.join("slurm/array.sbatch")).contains("#SBATCH --array=3%1"));
    let (array2, report) = job_ids(&s);
    let queued = c.cmd("squeue", &["-h", "-o", "%A", "-j", &report]);
    assert!(String::from_utf8_lossy(&queued.stdout).trim().is_empty(), "the report job still queued after --wait");
    let status = ok(&c.iw(&["grid", "status", rs]));
    assert!(status.contains("4 runs: 4 done") && status.contains(&format!("SLURM {array2}_3 COMPLETED")), "{status}");
    for m in ["dl", "iwdl"] {
        for k in 0..2 {
            let p = format!("lits/{m}/experiment_{k}/test_metrics/prc_records.json");
            assert_eq!(read(&local.join(&p)), read(&remote.join(&p)), "{p}");
        }
    }
    assert_eq!(read(&local.join("report/table.csv")), read(&remote.join("report/table.csv")));
    // Nothing left to do: nothing submitted.
    let s = ok(&c.iw(&grid_args(&prepared, rs, &["--executor", "slurm"])));
    assert!(s.contains("nothing to submit"), "{s}");
}

#[test]
fn a_task_warned_before_its_time_limit_checkpoints_requeues_and_finishes_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let Some(c) = Cluster::start(&dir.path().join("slurm"), "slurm_requeue") else { return };
    let work = dir.path().join("work");
    ok(&c.iw(&["reproduce", "lits", "--scale", "smoke", "--data-only", "--work", work.to_str().unwrap()]));
    let prepared = format!("dataset.prepared={}", work.join("lits-synth-smoke/prepared").display());
    let (local, remote) = (dir.path().join("local"), dir.path().join("remote"));
    let args = |out: &Path, extra: &[&str]| -> Vec<String> {
        [
            "grid",
            "experiments/lits/dl.yaml",
            "--overlay",
            "experiments/scales/smoke.yaml",
            "--set",
            &prepared,
            "--set",
            "training.epochs=20",
            "--set",
            "training.iterations=5",
            "--threads",
            "1",
            "--out",
            out.to_str().unwrap(),
        ]
        .iter()
        .chain(extra)
        .map(|s| s.to_string())
        .collect()
    };
    let run = |a: Vec<String>| c.iw(&a.iter().map(String::as_str).collect::<Vec<_>>());
    ok(&run(args(&local, &[])));
    let s = submitted(run(args(&remote, &["--executor", "slurm"])));
    let (array, report) = job_ids(&s);
    // After the first checkpoint, SLURM's warning signal (what --signal=B:USR1@S sends).
    let run_dir = remote.join("lits/dl/experiment_0");
    let t0 = Instant::now();
    while !run_dir.join("checkpoints/last.safetensors").is_file() {
        assert!(t0.elapsed() < Duration::from_secs(120), "no checkpoint after 2 min");
        std::thread::sleep(Duration::from_millis(100));
    }
    ok(&c.cmd("scancel", &["--signal=USR1", "--batch", &format!("{array}_0")]));
    c.wait(&report);
    let log = read(&run_dir.join("grid.log"));
    assert!(log.contains("requeueing SLURM job") && log.contains("(restart 1)"), "{log}");
    assert!(log.contains("train: resuming from"), "{log}");
    let steps = |p: &Path| -> Vec<String> {
        read(&p.join("lits/dl/experiment_0/train_log.csv"))
            .lines()
            .map(|l| l.rsplit_once(',').map_or(l, |(h, _)| h).to_string())
            .collect()
    };
    assert_eq!(steps(&local), steps(&remote), "the losses of every step, interrupted or not");
    let p = "lits/dl/experiment_0/test_metrics/prc_records.json";
    assert_eq!(read(&local.join(p)), read(&remote.join(p)));
}
