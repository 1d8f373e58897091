//! `iw-python`: the native half of the `iw_lesions` Python package (distribution
//! `iw-lesions`), built by maturin as the abi3 extension module `iw_lesions._native`.
//!
//! Everything here is a thin edge over `iw-core` and `iw-metrics`: numpy arrays come in as
//! borrowed `ndarray` views (no copy when their dtype is the one the maths works in), the work
//! runs with the GIL released (`Python::detach`), and results go back as numpy arrays that take
//! ownership of the Rust buffer (no copy). Errors are the library's own one-line messages, the
//! ones the `iw` CLI prints, raised as `ValueError` (bad shapes, dtypes, values, records; NaN or
//! infinite values in any float array), `OSError` (files) or `MemoryError` (a volume, or a
//! bootstrap, that this machine cannot hold). No call aborts the interpreter: every buffer of a
//! volume's size is allocated fallibly (`iw_core::alloc`), and each function's first
//! volume-sized allocation comes before any pass over the voxels, so that a huge input (a
//! zero-stride view of 10^15 voxels) fails at once: the finite-value checks run after the work
//! (whose result is then dropped) in `label` and `lesion_records`, and `inverse_weights`
//! allocates its weights before it looks at the values. (A probe, an allocation made and freed
//! first, would do too, but it leaves glibc's heap holding the freed pages, and the zeroed label
//! image allocated next then costs a full memset instead of the kernel's lazy zero pages.)
//!
//! * [`label`]: 6/18/26-connected components, `(labels uint32, n)`, as `iw label`.
//! * [`inverse_weights`]: w(v) = N / ((K + 1) |c(v)|), clipped to [w_min, w_max], float32, as
//!   `iw weights` (a mask is labelled first; a label map is used as it is).
//! * [`lesion_records`]: the paper's per-lesion records of one case (METHOD.md, "Evaluation").
//! * [`evaluate_json`] / [`report`]: the paper's table (FROC, average recall over 0..5 FP, CPM,
//!   object Dice, the bootstrap) from records, as `iw report --json`.
//!
//! The Python layer (`python/iw_lesions/__init__.py`) converts torch tensors and MetaTensors
//! with `numpy.asarray`, views bool masks as uint8, converts float16 to float32 and turns the
//! JSON answers into dicts.
#![deny(missing_docs)]

use iw_core::{alloc, Connectivity, Element, WeightBounds};
use iw_metrics::{BootstrapMode, EvalOptions, LesionRecord, MethodRecords};
use ndarray::{Array3, ArrayView3};
use numpy::{IntoPyArray, PyArray3, PyReadonlyArray3, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::{PyMemoryError, PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use std::collections::HashMap;
use std::path::Path;

fn value_error(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// `MemoryError` for a buffer the allocator refused, else `ValueError`.
fn core_error(e: iw_core::Error) -> PyErr {
    match e {
        iw_core::Error::OutOfMemory { .. } => PyMemoryError::new_err(e.to_string()),
        iw_core::Error::Io { .. } => PyOSError::new_err(e.to_string()),
        e => value_error(e),
    }
}

fn metrics_error(e: iw_metrics::Error) -> PyErr {
    match e {
        iw_metrics::Error::Io { ref error, .. } if error.kind() == std::io::ErrorKind::OutOfMemory => {
            PyMemoryError::new_err(e.to_string())
        }
        iw_metrics::Error::Io { .. } => PyOSError::new_err(e.to_string()),
        iw_metrics::Error::Core(e) => core_error(e),
        e => value_error(e),
    }
}

/// `100 x 200 x 300`.
fn shape_text(shape: &[usize]) -> String {
    shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(" x ")
}

/// `ValueError` naming the argument when a float volume holds NaN or infinite values (the
/// CLI's rule for every volume it reads); integer volumes pass without a look.
fn check_finite<T: Element>(v: &ArrayView3<'_, T>, name: &str) -> PyResult<()> {
    if !T::DTYPE.is_float() {
        return Ok(());
    }
    let bad = v.iter().filter(|x| !x.to_f64().is_finite()).count();
    if bad > 0 {
        return Err(value_error(format!(
            "{name}: {bad} non-finite (NaN or infinite) value(s); iw needs finite values"
        )));
    }
    Ok(())
}

/// The one-line message for an argument that is not a 3D numpy array of a supported dtype.
fn bad_array(obj: &Bound<'_, PyAny>, name: &str, dtypes: &str) -> PyErr {
    match obj.cast::<PyUntypedArray>() {
        Ok(a) if a.ndim() != 3 => {
            value_error(format!("{name}: expected a 3D array [z, y, x], got shape {:?}", a.shape()))
        }
        Ok(a) => value_error(format!("{name}: dtype {} is not supported ({dtypes})", a.dtype())),
        Err(_) => value_error(format!(
            "{name}: expected a numpy array, got {}",
            obj.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "?".into())
        )),
    }
}

const ANY_DTYPE: &str = "bool, uint8..uint64, int8..int64, float16, float32, float64";

/// Runs `$body` with `$v` bound to an `ArrayView3<T>` of `$obj` for the first numeric `T` that
/// matches its dtype (a borrow of numpy's buffer, any strides).
macro_rules! with_volume {
    ($obj:expr, $name:expr, |$v:ident| $body:expr) => {{
        let obj = $obj;
        with_volume!(@try obj, $name, $v, $body, u8, i8, u16, i16, u32, i32, u64, i64, f32, f64)
    }};
    (@try $obj:ident, $name:expr, $v:ident, $body:expr, $t:ty $(, $rest:ty)*) => {
        if let Ok(a) = $obj.extract::<PyReadonlyArray3<'_, $t>>() {
            let $v: ArrayView3<'_, $t> = a.as_array();
            $body
        } else {
            with_volume!(@try $obj, $name, $v, $body $(, $rest)*)
        }
    };
    (@try $obj:ident, $name:expr, $v:ident, $body:expr) => {
        Err(bad_array($obj, $name, ANY_DTYPE))
    };
}

/// A float32 view of `obj`, borrowed when it is float32, else converted (float64, integers;
/// the copy allocated fallibly, before any voxel is read).
fn as_f32<'py>(py: Python<'py>, obj: &Bound<'py, PyAny>, name: &'static str) -> PyResult<F32Volume<'py>> {
    if let Ok(a) = obj.extract::<PyReadonlyArray3<'py, f32>>() {
        return Ok(F32Volume { data: F32Data::Borrowed(a), name, from_float: true });
    }
    with_volume!(obj, name, |v| {
        let what = format!("a float32 copy of {name}, a {} volume", shape_text(v.shape()));
        let copy = py.detach(|| alloc::try_map3(v, |x| x.to_f64() as f32, &what)).map_err(core_error)?;
        Ok(F32Volume { data: F32Data::Owned(copy), name, from_float: is_float(&v) })
    })
}

fn is_float<T: Element>(_: &ArrayView3<'_, T>) -> bool {
    T::DTYPE.is_float()
}

/// A float32 volume and the argument it came from.
struct F32Volume<'py> {
    data: F32Data<'py>,
    name: &'static str,
    /// Whether the argument was a float array, whose values must be finite (a float64 beyond
    /// float32's range too: it is infinite as float32, the type the records are computed in).
    from_float: bool,
}

enum F32Data<'py> {
    Borrowed(PyReadonlyArray3<'py, f32>),
    Owned(Array3<f32>),
}

impl F32Volume<'_> {
    fn view(&self) -> ArrayView3<'_, f32> {
        match &self.data {
            F32Data::Borrowed(a) => a.as_array(),
            F32Data::Owned(a) => a.view(),
        }
    }
}

/// Connected components of the non-zero voxels of `mask` (`[z, y, x]`), labelled 1..=n in the
/// order of each component's first voxel in C order (scipy.ndimage.label's numbering).
#[pyfunction]
#[pyo3(signature = (mask, connectivity = 26))]
pub fn label<'py>(
    py: Python<'py>,
    mask: &Bound<'py, PyAny>,
    connectivity: u32,
) -> PyResult<(Bound<'py, PyArray3<u32>>, usize)> {
    let conn = Connectivity::from_number(connectivity).map_err(value_error)?;
    let cc = with_volume!(mask, "mask", |v| py.detach(|| {
        // Labelled first (its first step allocates the labels: a volume too large fails at
        // once), checked after: a non-finite value drops the labels.
        let cc = iw_core::try_label(v, conn).map_err(core_error)?;
        check_finite(&v, "mask")?;
        Ok(cc)
    }))?;
    let n = cc.count();
    Ok((cc.labels.into_pyarray(py), n))
}

/// Checked, dense `u32` labels of a label map: non-negative integers; renumbered (the weights
/// depend only on the component sizes) when the largest label would make the count table larger
/// than the volume, so that a label of 2^40 costs no memory. Allocated fallibly
/// (`MemoryError`).
pub fn dense_labels<T: Element>(v: ArrayView3<'_, T>, name: &str) -> PyResult<Array3<u32>> {
    let max = largest_label(&v)
        .map_err(|f| value_error(format!("{name}: labels must be non-negative integers, found {f}")))?;
    let what = format!("the labels of {name}, a {} volume", shape_text(v.shape()));
    if max < (v.len() as f64).max(65536.0) {
        return alloc::try_map3(v, |x| x.to_f64() as u32, &what).map_err(core_error);
    }
    let mut out = alloc::try_with_capacity::<u32>(v.len(), &what).map_err(core_error)?;
    let mut ids: HashMap<u64, u32> = HashMap::from([(0, 0)]);
    for &x in v.iter() {
        let id = x.to_f64() as u64;
        let l = match ids.get(&id) {
            Some(&l) => l,
            None => {
                let next = ids.len() as u32;
                alloc::try_insert(&mut ids, id, next, "the label renumbering table").map_err(core_error)?;
                next
            }
        };
        out.push(l);
    }
    Ok(Array3::from_shape_vec(v.raw_dim(), out).expect("one label per voxel"))
}

/// The largest value, or the first that is not a non-negative integer (below 2^63). Compiled on
/// its own (inlined into its caller, the running maximum went through the stack: twice as slow).
#[inline(never)]
fn largest_label<T: Element>(v: &ArrayView3<'_, T>) -> Result<f64, f64> {
    let step = |max: f64, x: &T| {
        let f = x.to_f64();
        if f >= 0.0 && f.fract() == 0.0 && f < 2f64.powi(63) {
            Ok(max.max(f))
        } else {
            Err(f)
        }
    };
    match v.as_slice() {
        Some(s) => s.iter().try_fold(0.0, step),
        None => v.iter().try_fold(0.0, step),
    }
}

/// Whether every value is 0 or 1 (a mask, for `labels=None`).
fn is_binary<T: Element>(v: &ArrayView3<'_, T>) -> bool {
    v.iter().all(|x| {
        let f = x.to_f64();
        f == 0.0 || f == 1.0
    })
}

/// The weights of a mask (labelled first, as `iw weights`) or a label map (as it is).
pub fn weights_of<T: Element>(
    v: ArrayView3<'_, T>,
    bounds: WeightBounds,
    conn: Connectivity,
    as_labels: Option<bool>,
) -> PyResult<Array3<f32>> {
    // The weights are allocated first: a patch too large fails before the passes below.
    let what = format!("the weights of a {} patch", shape_text(v.shape()));
    let n = alloc::voxel_count(v.shape(), size_of::<f32>(), &what).map_err(core_error)?;
    let out = alloc::try_with_capacity::<f32>(n, &what).map_err(core_error)?;
    check_finite(&v, "mask_or_labels")?;
    let as_labels = as_labels.unwrap_or_else(|| !is_binary(&v));
    let labels = if as_labels {
        dense_labels(v, "mask_or_labels")?
    } else {
        iw_core::try_label(v, conn).map_err(core_error)?.labels
    };
    iw_core::try_inverse_weights_into(labels.view(), bounds, out).map_err(core_error)
}

/// Inverse-size weights (float32, same shape). `labels=None`: a 0/1 array is a mask and is
/// labelled with `connectivity` first (equal to `iw weights`), anything else is a label map
/// used as it is (a crop of a whole-volume labelling: labels are not renumbered, K = the labels
/// present). `labels=True` / `False` force either reading.
#[pyfunction]
#[pyo3(signature = (mask_or_labels, w_min = 1.0, w_max = 2e5, connectivity = 26, labels = None))]
pub fn inverse_weights<'py>(
    py: Python<'py>,
    mask_or_labels: &Bound<'py, PyAny>,
    w_min: f64,
    w_max: f64,
    connectivity: u32,
    labels: Option<bool>,
) -> PyResult<Bound<'py, PyArray3<f32>>> {
    let bounds = WeightBounds::new(w_min, w_max).map_err(value_error)?;
    let conn = Connectivity::from_number(connectivity).map_err(value_error)?;
    let w = with_volume!(mask_or_labels, "mask_or_labels", |v| py.detach(|| weights_of(v, bounds, conn, labels)))?;
    Ok(w.into_pyarray(py))
}

fn record_dict<'py>(py: Python<'py>, r: &LesionRecord, voxel_mm3: Option<f64>) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("obj", &r.obj)?;
    d.set_item("is_tum", r.is_tum)?;
    d.set_item("diameter", r.diameter)?;
    d.set_item("hit_dice", r.hit_dice)?;
    d.set_item("hit_max", r.hit_max)?;
    d.set_item("hit_median", r.hit_median)?;
    d.set_item("hit_q95", r.hit_q95)?;
    d.set_item("hit_logit", r.hit_logit)?;
    d.set_item("hit_stat", r.hit_stat)?;
    d.set_item("hit_obj", &r.hit_obj)?;
    d.set_item("self_stat", r.self_stat)?;
    d.set_item("self_logit", r.self_logit)?;
    if let Some(mm3) = voxel_mm3 {
        // diameter = (6 V / pi)^(1/3) in voxels, so V = pi d^3 / 6; in mm: (6 V mm3 / pi)^(1/3).
        d.set_item("diameter_mm", r.diameter * mm3.cbrt())?;
    }
    if let Some(e) = &r.extent {
        d.set_item("voxels", e.voxels)?;
        if let Some(v) = e.voxel_mm3 {
            d.set_item("voxel_mm3", v)?;
        }
        let o = PyDict::new(py);
        for (k, n) in &e.overlaps {
            o.set_item(k, n)?;
        }
        d.set_item("overlaps", o)?;
    }
    Ok(d)
}

/// The paper's per-lesion records of one case: GT = `gt > 0.5`, P = `prob > 0.5`, both
/// 26-connected; `logit` defaults to `log(p / (1 - p))`. Returns `(records, voxel_dice)`;
/// with `spacing` (mm, three numbers in the arrays' axis order) each record also carries
/// `diameter_mm`.
#[pyfunction]
#[pyo3(signature = (gt, prob, logit = None, spacing = None))]
pub fn lesion_records<'py>(
    py: Python<'py>,
    gt: &Bound<'py, PyAny>,
    prob: &Bound<'py, PyAny>,
    logit: Option<&Bound<'py, PyAny>>,
    spacing: Option<Vec<f64>>,
) -> PyResult<(Bound<'py, PyList>, f64)> {
    let voxel_mm3 = match spacing {
        None => None,
        Some(s) if s.len() == 3 && s.iter().all(|x| x.is_finite() && *x > 0.0) => Some(s.iter().product::<f64>()),
        Some(s) => return Err(value_error(format!("spacing: need three positive numbers (mm), got {s:?}"))),
    };
    let gt = as_f32(py, gt, "gt")?;
    let prob = as_f32(py, prob, "prob")?;
    let logit = logit.map(|l| as_f32(py, l, "logit")).transpose()?;
    let (g, p, l) = (gt.view(), prob.view(), logit.as_ref().map(|l| l.view()));
    // The float arguments, checked for non-finite values after the evaluation (whose first step
    // allocates: a case too large fails at once, before any pass over its voxels).
    let floats: Vec<(ArrayView3<'_, f32>, &str)> = [Some(&gt), Some(&prob), logit.as_ref()]
        .into_iter()
        .flatten()
        .filter(|v| v.from_float)
        .map(|v| (v.view(), v.name))
        .collect();
    let mut case = py.detach(|| -> PyResult<_> {
        let case = iw_metrics::evaluate_case(g, p, l).map_err(metrics_error)?;
        for (v, name) in &floats {
            check_finite(v, name)?;
        }
        Ok(case)
    })?;
    if let Some(v) = voxel_mm3 {
        case.set_voxel_volume(v);
    }
    let list = PyList::empty(py);
    for r in &case.records {
        list.append(record_dict(py, r, voxel_mm3)?)?;
    }
    Ok((list, case.dice))
}

/// A lower bound of the bootstrap's memory per sample: the subset's and the curve's vectors,
/// the curve's 121 values, the sample's average recall and CPM.
const BYTES_PER_SAMPLE: usize = 2 * size_of::<Vec<f64>>() + 121 * size_of::<f64>() + 2 * size_of::<f64>();

fn eval_options(
    small_below: Option<f64>,
    bootstrap: &str,
    samples: usize,
    fraction: f64,
    seed: u32,
    rule: &str,
) -> PyResult<EvalOptions> {
    let rule: iw_metrics::MatchRule = rule.parse().map_err(|e| value_error(format!("match: {e}")))?;
    if let Some(s) = small_below {
        if !(s.is_finite() && s > 0.0) {
            return Err(value_error(format!("small_below must be a positive number of voxels, not {s}")));
        }
    }
    if samples == 0 || !(fraction > 0.0 && fraction <= 1.0) {
        return Err(value_error(format!(
            "the bootstrap needs samples >= 1 and 0 < fraction <= 1, got {samples} and {fraction}"
        )));
    }
    // The bootstrap holds, per sample and at once, a subset and a FROC curve of 121 points (at
    // least this much): a count of samples the machine cannot hold is a MemoryError, not an abort.
    alloc::ensure_allocatable::<[u8; BYTES_PER_SAMPLE]>(samples, &format!("the bootstrap's {samples} samples"))
        .map_err(core_error)?;
    let bootstrap = match bootstrap {
        "paper" => BootstrapMode::Paper,
        "corrected" => BootstrapMode::Corrected,
        b => return Err(value_error(format!("bootstrap must be 'paper' or 'corrected', not '{b}'"))),
    };
    Ok(EvalOptions { small_below, bootstrap, samples, fraction, seed, rule })
}

fn curve_json(s: &iw_metrics::StratumResult) -> serde_json::Value {
    serde_json::json!({ "avg_fp": s.curve_fp, "recall_mean": s.curve_mean, "recall_std": s.curve_std })
}

/// The table row of one set of records (`records_json`: the text of a `prc_records.json`, case
/// id to records) as JSON text: `iw report --json`'s fields, plus `froc` (thresholds, recall and
/// avgFP of all records, no bootstrap) and each stratum's bootstrap mean FROC curve.
pub fn evaluate_records(records_json: &str, dataset: &str, opts: &EvalOptions) -> iw_metrics::Result<String> {
    let cases = iw_metrics::parse_records(Path::new("records"), records_json)?;
    let m = MethodRecords { dataset: dataset.into(), method: "records".into(), files: vec![], cases };
    let row = iw_metrics::evaluate_method(&m, opts)?;
    let cases = iw_metrics::match_cases(&m.cases, opts.rule)?;
    let units: Vec<iw_metrics::operating::Unit> = cases
        .iter()
        .map(|(id, r)| iw_metrics::operating::Unit::new(id.clone(), r, f64::NAN, row.small_below))
        .collect();
    let points = iw_metrics::operating::points(&units);
    let all = cases.values().flatten();
    let thresholds = iw_metrics::paper_thresholds(iw_metrics::max_finite_self_logit(all.clone()));
    let n_cases = match opts.bootstrap {
        BootstrapMode::Paper => m.cases.values().filter(|r| !r.is_empty()).count(),
        BootstrapMode::Corrected => m.cases.len(),
    };
    let f = iw_metrics::froc(all, n_cases as f64, &thresholds);
    let mut v = iw_metrics::to_json(std::slice::from_ref(&row));
    let mut obj = v.as_array_mut().and_then(|a| a.pop()).unwrap_or_default();
    if let Some(o) = obj.as_object_mut() {
        o.remove("method");
        let jnum = |x: &f64| serde_json::Number::from_f64(*x).map(serde_json::Value::Number).unwrap_or_default();
        o.insert(
            "froc".into(),
            serde_json::json!({
                "thresholds": f.thresholds.iter().map(jnum).collect::<Vec<_>>(),
                "recall": f.recall.iter().map(jnum).collect::<Vec<_>>(),
                "avg_fp": f.avg_fp.iter().map(jnum).collect::<Vec<_>>(),
                "avg_recall": jnum(&f.avg_recall()),
                "cpm": jnum(&f.cpm()),
            }),
        );
        o.insert("operating".into(), serde_json::to_value(points).unwrap_or_default());
        o.insert("curve".into(), curve_json(&row.all));
        o.insert("small_curve".into(), curve_json(&row.small));
        o.insert("large_curve".into(), curve_json(&row.large));
    }
    Ok(obj.to_string())
}

/// `evaluate_records` for Python (the Python `evaluate` serialises the records dict first and
/// passes the bootstrap's draws as one `(samples, fraction, seed)` tuple).
#[pyfunction]
#[pyo3(signature = (records_json, dataset = "", small_below = None, bootstrap = "paper", draws = (50, 0.8, 42), rule = "overlap"))]
pub fn evaluate_json(
    py: Python<'_>,
    records_json: &str,
    dataset: &str,
    small_below: Option<f64>,
    bootstrap: &str,
    draws: (usize, f64, u32),
    rule: &str,
) -> PyResult<String> {
    let (samples, fraction, seed) = draws;
    let opts = eval_options(small_below, bootstrap, samples, fraction, seed, rule)?;
    py.detach(|| evaluate_records(records_json, dataset, &opts)).map_err(metrics_error)
}

/// `iw report DIR --json` (`bootstrap="corrected"`: `--bootstrap-fix`), as JSON text.
#[pyfunction]
#[pyo3(signature = (dir, small_below = None, bootstrap = "paper", rule = "overlap"))]
pub fn report(
    py: Python<'_>,
    dir: std::path::PathBuf,
    small_below: Option<f64>,
    bootstrap: &str,
    rule: &str,
) -> PyResult<String> {
    let opts = eval_options(small_below, bootstrap, 50, 0.8, 42, rule)?;
    py.detach(|| -> iw_metrics::Result<String> {
        // iw's run layout (iw_run::RunDir::records_in_run; not a dependency here: it would bring
        // the figures' plotters into the wheel).
        let methods = iw_metrics::load_records_dir(&dir, "test_metrics/prc_records.json".as_ref())?;
        let rows = methods.iter().map(|m| iw_metrics::evaluate_method(m, &opts)).collect::<Result<Vec<_>, _>>()?;
        Ok(serde_json::to_string_pretty(&iw_metrics::to_json(&rows)).expect("JSON values serialise"))
    })
    .map_err(metrics_error)
}

/// The module `iw_lesions._native`.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(label, m)?)?;
    m.add_function(wrap_pyfunction!(inverse_weights, m)?)?;
    m.add_function(wrap_pyfunction!(lesion_records, m)?)?;
    m.add_function(wrap_pyfunction!(evaluate_json, m)?)?;
    m.add_function(wrap_pyfunction!(report, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
