//! Progress bars (indicatif): one per stage, with position, rate and ETA.
use indicatif::{ProgressBar, ProgressStyle};

/// A bar of `len` steps named `name`; hidden when stderr is not a terminal.
pub fn bar(len: u64, name: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} ({per_sec}, ETA {eta})")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    pb.set_prefix(name.to_string());
    pb
}
