//! Timings of iw-metrics for `make bench` (scripts/bench/run.py). Prints one JSON object.
//!
//! ```text
//! bench_metrics records GT PROB LOGIT [--reps 5]   evaluate_case on volumes read beforehand
//! bench_metrics report DIR [--reps 5]              load + evaluate every method under DIR
//! ```
use iw_io::read_volume;
use iw_metrics::{evaluate_case, evaluate_method, load_records_dir, EvalOptions};
use iw_test_support::bench::time;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let reps =
        args.iter().position(|a| a == "--reps").and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(5);
    let times = match args.get(1).map(String::as_str) {
        Some("records") => {
            let v = |i: usize| read_volume(&args[i]).expect("reading a volume").to_f32();
            let (g, p, l) = (v(2), v(3), v(4));
            time(1, reps, || {
                evaluate_case(g.data.view(), p.data.view(), Some(l.data.view())).expect("evaluating").records.len()
            })
        }
        Some("report") => {
            let dir = std::path::PathBuf::from(&args[2]);
            time(1, reps, || {
                let methods = load_records_dir(&dir, "test_metrics/prc_records.json".as_ref()).expect("records");
                methods
                    .iter()
                    .map(|m| evaluate_method(m, &EvalOptions::default()).expect("evaluating").all.cases)
                    .sum::<usize>()
            })
        }
        _ => {
            eprintln!("usage: bench_metrics records GT PROB LOGIT | report DIR [--reps N]");
            std::process::exit(2);
        }
    };
    println!("{}", times.json(None));
}
