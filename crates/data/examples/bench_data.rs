//! Timings of iw-data's hot paths for `make bench` (scripts/bench/run.py runs this beside the
//! Python peers and prints the ratios). Prints one JSON object per task on stdout.
//!
//! ```text
//! bench_data ccl MASK [--connectivity 26] [--reps 7]
//! bench_data weights LABELS [--reps 7]
//! bench_data read PATH [--reps 7]
//! bench_data lungmask LABELS [--reps 7]   (LUNA16 lung mask: drop the trachea, close 10, dilate 3)
//! bench_data sampler PREPARED [--batches 60] [--workers 2] [--patch 128]   (seconds per batch)
//! ```
use iw_core::{inverse_weights, label, Connectivity, WeightBounds};
use iw_io::read_volume;
use iw_test_support::bench::{time, Timings};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: bench_data ccl|weights|read PATH [--connectivity N] [--reps N]";
    let (task, path) = match (args.get(1), args.get(2)) {
        (Some(t), Some(p)) => (t.as_str(), p.as_str()),
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    };
    let opt = |name: &str, default: usize| -> usize {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let reps = opt("--reps", 7);
    let times = match task {
        "ccl" => {
            let conn = Connectivity::from_number(opt("--connectivity", 26) as u32).expect("6, 18 or 26");
            let mask = read_volume(path).expect("reading the mask").nonzero_mask();
            time(1, reps, || label(mask.data.view(), conn).count())
        }
        "weights" => {
            let labels = read_volume(path).expect("reading the labels").to_f64().data.mapv(|v| v as u32);
            time(1, reps, || inverse_weights(labels.view(), WeightBounds::default()))
        }
        "read" => time(1, reps, || read_volume(path).expect("reading").shape_zyx()),
        "lungmask" => {
            let labels = read_volume(path).expect("reading the labels").to_f32().data;
            time(1, reps, || iw_data::luna16::lung_mask(&labels).expect("lung labels").len())
        }
        "sampler" => {
            use iw_data::prepared::PreparedDataset;
            use iw_data::sampler::{BatchStream, SamplerConfig};
            let root = std::path::Path::new(path);
            let ids = PreparedDataset::info(root).expect("dataset.json").cases;
            let ds = std::sync::Arc::new(PreparedDataset::open(root, &ids).expect("opening"));
            let p = opt("--patch", 128);
            let (batches, workers) = (opt("--batches", 60), opt("--workers", 2));
            let cfg = SamplerConfig { patch_dhw: [p, p, p], batch_size: 2, ..SamplerConfig::default() };
            let mut stream = BatchStream::new(ds, cfg, 0, workers, 4).expect("stream");
            for _ in 0..4 {
                std::hint::black_box(stream.next());
            }
            let t = Instant::now();
            for _ in 0..batches {
                std::hint::black_box(stream.next().expect("a batch"));
            }
            Timings(vec![t.elapsed().as_secs_f64() / batches as f64])
        }
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    };
    println!("{}", times.json(Some(task)));
}
