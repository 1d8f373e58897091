//! `iw model summary`.
use iw_models::{parameter_count, ResUNet, UNetConfig};
use iw_run::resources::human;
use iw_run::Experiment;
use std::path::Path;
use tch::{nn, Device};

/// Prints the summary.
pub fn summary(
    experiment: Option<&Path>,
    width: Option<f64>,
    depth: Option<usize>,
    patch: Option<[usize; 3]>,
) -> anyhow::Result<()> {
    let exp = match experiment {
        Some(p) => Experiment::load(p, &[])?,
        None => Experiment::default(),
    };
    let cfg = UNetConfig {
        width: width.unwrap_or(exp.model.width),
        depth: depth.unwrap_or(exp.model.depth),
        ..UNetConfig::default()
    };
    let patch = patch.unwrap_or(exp.training.patch).map(|v| v as i64);
    let vs = nn::VarStore::new(Device::Cpu);
    let model = ResUNet::new(&vs.root(), cfg)?;
    let rows = model.summary(&vs, patch);
    println!(
        "3D residual U-Net, width {}, depth {}, input 1 x {} x {} x {} (C x D x H x W)",
        cfg.width, cfg.depth, patch[0], patch[1], patch[2]
    );
    println!("{:<16} {:<26} {:>24} {:>12}", "layer", "kind", "output (C, D, H, W)", "params");
    let mut activations = 0i64;
    for r in &rows {
        let o = r.output;
        activations += o.iter().product::<i64>();
        println!(
            "{:<16} {:<26} {:>24} {:>12}",
            r.name,
            r.kind,
            format!("{} x {} x {} x {}", o[0], o[1], o[2], o[3]),
            r.params
        );
    }
    let params = parameter_count(&vs);
    println!("total parameters: {params} ({})", human(params as f64 * 4.0));
    println!(
        "activations per sample (float32, layer outputs): forward {}, forward + backward ~{}",
        human(activations as f64 * 4.0),
        human(activations as f64 * 8.0)
    );
    Ok(())
}
