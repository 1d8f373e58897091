//! Ctrl-C. The first press sets [`STOP`]; the long loops (training steps, the grid, the cases
//! of `iw synth` and `iw prepare`) look at it at their next safe point, keep what is complete
//! (checkpoint, finished cases) and return [`Interrupted`], which `main` turns into exit code 130
//! (128 + SIGINT, as a shell reports a process killed by Ctrl-C). A second press quits at once,
//! also with 130; every output is written to a temporary name and renamed, so nothing is left
//! half-written, and rerunning the same command resumes.
use std::sync::atomic::{AtomicBool, Ordering};

/// Set by the first Ctrl-C.
pub static STOP: AtomicBool = AtomicBool::new(false);

/// Whether Ctrl-C was pressed.
pub fn requested() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// The error of work stopped by Ctrl-C: what was kept and how to resume.
#[derive(Debug)]
pub struct Interrupted(pub String);

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "interrupted: {}", self.0)
    }
}

impl std::error::Error for Interrupted {}

/// `Err(Interrupted(what()))` once Ctrl-C was pressed.
pub fn check(what: impl FnOnce() -> String) -> anyhow::Result<()> {
    if requested() {
        return Err(Interrupted(what()).into());
    }
    Ok(())
}

/// Whether `e` (or an error in its chain) is an [`Interrupted`].
pub fn is_interrupted(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.is::<Interrupted>())
}

/// Installs the handler: the first press sets [`STOP`] and says so, the second exits with 130.
pub fn install_handler() {
    let _ = ctrlc::set_handler(|| {
        if STOP.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!("\ninterrupt: stopping at the next safe point, keeping what is complete (Ctrl-C again to quit now)");
    });
}
