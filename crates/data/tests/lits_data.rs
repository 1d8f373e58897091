//! The LiTS data path: phantoms, preparation (crop, labels, lesion index, skips, resume) and
//! the patch sampler (the paper's distribution, padding, weights, determinism).
mod common;
use iw_core::{inverse_weights, label, Connectivity, WeightBounds};
use iw_data::lits::{find_cases, prepare_case, RawCase};
use iw_data::prepared::{case_done, DatasetInfo, PreparedCase, PreparedDataset};
use iw_data::sampler::{case_distribution, cut_patch, sample_batch, BatchStream, SamplerConfig};
use iw_io::{read_volume, write_volume};
use iw_synth::lits::{lits_phantom, PhantomOptions, TumourStats};
use ndarray::{Array3, ArrayView3};
use std::path::Path;
use std::sync::Arc;

fn stats() -> TumourStats {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data-manifests/lits-tumour-stats.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// Writes `n` small phantoms as LiTS raw files and prepares them; returns the prepared root.
fn prepared_dataset(dir: &Path, n: usize) -> Vec<String> {
    let raw = dir.join("raw/Training Batch 1");
    std::fs::create_dir_all(&raw).unwrap();
    let opts = PhantomOptions { shape_xyz: [64, 64, 32], ..PhantomOptions::default() };
    for i in 0..n {
        let ph = lits_phantom(i as u64 + 100, &stats(), &opts);
        write_volume(raw.join(format!("volume-{i}.nii")), &ph.image).unwrap();
        write_volume(raw.join(format!("segmentation-{i}.nii.gz")), &ph.segmentation).unwrap();
    }
    let (pairs, half) = find_cases(&dir.join("raw")).unwrap();
    assert!(half.is_empty());
    let cases = dir.join("prep/cases");
    std::fs::create_dir_all(&cases).unwrap();
    let mut ids = Vec::new();
    for (n, rc) in &pairs {
        let id = n.to_string();
        prepare_case(&cases, &id, rc).unwrap().unwrap();
        ids.push(id);
    }
    let info = DatasetInfo {
        format: "iw-prepared-1".into(),
        dataset: "lits".into(),
        synthetic: true,
        source: "test".into(),
        cases: ids.clone(),
        skipped: vec![],
        missing: vec![],
        iw_version: "test".into(),
    };
    std::fs::write(dir.join("prep/dataset.json"), serde_json::to_string(&info).unwrap()).unwrap();
    ids
}

#[test]
fn phantoms_are_deterministic_and_follow_the_statistics() {
    let opts = PhantomOptions { shape_xyz: [64, 64, 32], ..PhantomOptions::default() };
    let a = lits_phantom(7, &stats(), &opts);
    let b = lits_phantom(7, &stats(), &opts);
    assert_eq!(a.image.data, b.image.data);
    assert_eq!(a.segmentation.data, b.segmentation.data);
    let c = lits_phantom(8, &stats(), &opts);
    assert_ne!(a.image.data, c.image.data);
    // HU: air, fat, liver brighter than tumours on average.
    let img = a.image.data.mapv(f64::from);
    let seg = &a.segmentation.data;
    assert!(img.iter().cloned().fold(f64::MAX, f64::min) <= -900.0);
    let mean = |l: u8| {
        let v: Vec<f64> = img.iter().zip(seg.iter()).filter(|(_, &s)| s == l).map(|(&x, _)| x).collect();
        v.iter().sum::<f64>() / v.len().max(1) as f64
    };
    assert!(mean(1) > mean(2) + 5.0, "tumours are hypodense: liver {} tumour {}", mean(1), mean(2));
    // Tumour counts come from the LiTS statistics (up to merges at this coarse resolution).
    let mut total = 0;
    for s in 0..40 {
        let p = lits_phantom(s, &stats(), &opts);
        let cc = label(p.segmentation.data.mapv(|v| u8::from(v == 2)).view(), Connectivity::C26);
        assert_eq!(cc.count(), p.tumours);
        assert!(p.tumours <= 12);
        total += p.tumours;
    }
    let want = stats().tumours_per_case.iter().sum::<usize>() as f64 / 28.0 * 40.0;
    assert!((total as f64 - want).abs() < 0.35 * want, "{total} tumours in 40 cases, LiTS rate gives {want}");
}

#[test]
fn preparation_crops_labels_and_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let ids = prepared_dataset(dir.path(), 3);
    let cases = dir.path().join("prep/cases");
    for id in &ids {
        assert!(case_done(&cases, id));
        let c = PreparedCase::open(&cases, id).unwrap();
        let seg = read_volume(dir.path().join(format!("raw/Training Batch 1/segmentation-{id}.nii.gz")))
            .unwrap()
            .to_f32()
            .data;
        // Crop = liver bounding box + 5, clipped.
        let (mut lo, mut hi) = ([usize::MAX; 3], [0usize; 3]);
        for ((z, y, x), &v) in seg.indexed_iter() {
            if v >= 1.0 {
                for (a, c) in [z, y, x].into_iter().enumerate() {
                    lo[a] = lo[a].min(c);
                    hi[a] = hi[a].max(c);
                }
            }
        }
        let s = seg.shape();
        for a in 0..3 {
            assert_eq!(c.meta.crop_start_zyx[a], lo[a].saturating_sub(5));
            assert_eq!(c.meta.crop_start_zyx[a] + c.meta.shape_zyx[a], (hi[a] + 6).min(s[a]));
        }
        // Mask = tumour label inside the crop; labels = its components; the lesion index.
        let [d, h, w] = c.meta.shape_zyx;
        let st = c.meta.crop_start_zyx;
        let mask = ArrayView3::from_shape((d, h, w), c.mask()).unwrap();
        for ((z, y, x), &m) in mask.indexed_iter() {
            assert_eq!(m, u8::from(seg[[z + st[0], y + st[1], x + st[2]]] == 2.0));
        }
        let cc = label(mask, Connectivity::C26);
        assert_eq!(cc.labels.iter().map(|&l| l as u16).collect::<Vec<_>>(), c.labels());
        for comp in &c.meta.components {
            let v = c.lesion_voxels(comp.label);
            assert_eq!(v.len() as u64, comp.voxels);
            assert!(v.iter().all(|&i| c.labels()[i as usize] as u32 == comp.label));
        }
    }
}

#[test]
fn bad_cases_are_skipped_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let img = iw_core::Volume::new(Array3::<i16>::zeros((4, 5, 6)), iw_core::Geometry::default());
    write_volume(d.join("volume-1.nii"), &img).unwrap();
    write_volume(
        d.join("segmentation-1.nii"),
        &iw_core::Volume::new(Array3::<u8>::zeros((4, 5, 7)), iw_core::Geometry::default()),
    )
    .unwrap();
    write_volume(d.join("volume-2.nii"), &img).unwrap();
    write_volume(
        d.join("segmentation-2.nii"),
        &iw_core::Volume::new(Array3::<u8>::zeros((4, 5, 6)), iw_core::Geometry::default()),
    )
    .unwrap();
    write_volume(d.join("volume-3.nii"), &img).unwrap();
    let (pairs, half) = find_cases(d).unwrap();
    assert_eq!(half, vec![3]);
    let out = d.join("cases");
    std::fs::create_dir_all(&out).unwrap();
    let skip = prepare_case(&out, "1", &pairs[&1]).unwrap().unwrap_err();
    assert!(skip.0.contains("6 x 5 x 4") && skip.0.contains("7 x 5 x 4"), "{}", skip.0);
    let skip = prepare_case(&out, "2", &pairs[&2]).unwrap().unwrap_err();
    assert!(skip.0.contains("no liver"), "{}", skip.0);
    assert!(!case_done(&out, "1") && !case_done(&out, "2"));
    let bad = RawCase { volume: d.join("nope.nii"), segmentation: d.join("segmentation-2.nii") };
    assert!(prepare_case(&out, "9", &bad).unwrap_err().to_string().contains("nope.nii"));
}

#[test]
fn sampler_distribution_padding_weights() {
    let dir = tempfile::tempdir().unwrap();
    let ids = prepared_dataset(dir.path(), 4);
    let ds = PreparedDataset::open(&dir.path().join("prep"), &ids).unwrap();
    let cfg = SamplerConfig { patch_dhw: [16, 24, 24], batch_size: 4, seed: 5, ..SamplerConfig::default() };
    let dist = case_distribution(&ds).unwrap();
    let lesions: Vec<f64> = ds.cases.iter().map(|c| c.meta.lesions() as f64).collect();
    let total: f64 = lesions.iter().sum();
    let (mut per_case, mut centred, mut n) = (vec![0f64; ds.cases.len()], 0f64, 0f64);
    for i in 0..1000 {
        let b = sample_batch(&ds, &cfg, &dist, i);
        for (k, o) in b.origins.iter().enumerate() {
            per_case[o.case] += 1.0;
            n += 1.0;
            if o.lesion_centred {
                centred += 1.0;
                let c = &ds.cases[o.case];
                let [_, h, w] = c.meta.shape_zyx;
                let flat = o.center_zyx[0] * h * w + o.center_zyx[1] * w + o.center_zyx[2];
                assert_ne!(c.labels()[flat], 0, "a lesion-centred patch is centred on a lesion voxel");
            }
            // Weights are the data crate's weights of the same crop.
            let r = k * 16 * 24 * 24..(k + 1) * 16 * 24 * 24;
            let lab = ArrayView3::from_shape((16, 24, 24), &b.labels[r.clone()]).unwrap();
            assert_eq!(inverse_weights(lab, WeightBounds::default()).as_slice().unwrap(), &b.weights[r.clone()]);
            assert!(b.image[r].iter().all(|v| (0.0..=1.0).contains(v)));
        }
    }
    let frac = centred / n;
    assert!((frac - 0.5).abs() < 0.03, "lesion-centred fraction {frac}");
    for (c, &k) in per_case.iter().zip(&lesions) {
        let p = k / total;
        let sd = (n * p * (1.0 - p)).sqrt();
        assert!((c - n * p).abs() < 4.0 * sd + 1.0, "case frequency {c} vs expected {}", n * p);
    }

    // Padding: a patch centred on the corner voxel; outside the volume the image takes the
    // minimum of the cropped part (deep_pipe's padding_values=np.min), mask and labels 0.
    let c = &ds.cases[0];
    let p = cut_patch(c, [8, 8, 8], cfg.window, [0, 0, 0]);
    let pv = ArrayView3::from_shape((8, 8, 8), &p.image[..]).unwrap();
    let inside_min = pv
        .indexed_iter()
        .filter(|((z, y, x), _)| *z >= 4 && *y >= 4 && *x >= 4)
        .map(|(_, &v)| v)
        .fold(f32::MAX, f32::min);
    for ((z, y, x), &v) in pv.indexed_iter() {
        if z < 4 || y < 4 || x < 4 {
            assert_eq!(v, inside_min);
            assert_eq!(p.mask[(z * 8 + y) * 8 + x], 0.0);
            assert_eq!(p.labels[(z * 8 + y) * 8 + x], 0);
        }
    }
    // The voxel at the centre is the scaled source voxel.
    let lo = c.meta.intensity_min.max(-300.0) as f32;
    let hi = c.meta.intensity_max.min(300.0) as f32;
    let src = c.image()[0].clamp(-300.0, 300.0);
    assert!((pv[[4, 4, 4]] - (src - lo) / (hi - lo)).abs() < 1e-6);
}

/// Issue 12, point 2: patches equal the authors' extraction (deep_pipe's get_centered_box +
/// crop_to_box, padding x with the crop's minimum over all channels, y and labels with 0),
/// ported in tests/golden/reference.py, at the corners, inside, and with a patch longer than the
/// volume on one axis; two channels, intensities as prepared.
#[test]
fn r12_patches_match_deep_pipe_crop_to_box() {
    let dir = tempfile::tempdir().unwrap();
    let (d, h, w) = (12usize, 15usize, 10usize);
    let mut s = 7u64;
    let mut rnd = move || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (s >> 40) as f32 / (1u64 << 24) as f32
    };
    let channels: Vec<iw_core::Volume<f32>> = (0..2)
        .map(|k| {
            let a = Array3::from_shape_simple_fn((d, h, w), || rnd() * 100.0 - 20.0 * k as f32);
            iw_core::Volume::new(a, iw_core::Geometry::default())
        })
        .collect();
    let mask = Array3::from_shape_fn((d, h, w), |(z, y, x)| u8::from((z / 3 + y / 4 + x / 3) % 3 == 0));
    let cases = dir.path().join("cases");
    std::fs::create_dir_all(&cases).unwrap();
    let crop = iw_data::prepared::CropOrigin { start_zyx: [0; 3], source_shape_zyx: [d, h, w] };
    iw_data::prepared::write_case_channels(&cases, "c", &channels, &mask, crop, vec![], None).unwrap();
    let case = PreparedCase::open(&cases, "c").unwrap();
    let patch = [8usize, 6, 16];
    let centers: Vec<[usize; 3]> = vec![[0, 0, 0], [11, 14, 9], [6, 7, 5], [3, 14, 0], [9, 2, 8]];
    let raw: Vec<u8> = case.image().iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(dir.path().join("x.f32"), raw).unwrap();
    let lab: Vec<u8> = case.labels().iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(dir.path().join("y.u16"), lab).unwrap();
    let spec = serde_json::json!({"shape": [2, d, h, w], "patch": patch, "centers": centers});
    std::fs::write(dir.path().join("case.json"), spec.to_string()).unwrap();
    common::reference(&["patches", dir.path().to_str().unwrap()]);
    let want: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("patches.json")).unwrap()).unwrap();
    for (c, want) in centers.iter().zip(&want) {
        let p = cut_patch(&case, patch, None, *c);
        let wx: Vec<f32> = want["x"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
        let wy: Vec<u16> = want["y"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u16).collect();
        assert_eq!(p.image, wx, "image patch at {c:?}");
        assert_eq!(p.labels, wy, "labels at {c:?}");
        assert_eq!(p.mask, wy.iter().map(|&l| f32::from(u8::from(l > 0))).collect::<Vec<_>>(), "mask at {c:?}");
    }
}

#[test]
fn stream_is_the_same_for_any_number_of_workers() {
    let dir = tempfile::tempdir().unwrap();
    let ids = prepared_dataset(dir.path(), 3);
    let ds = Arc::new(PreparedDataset::open(&dir.path().join("prep"), &ids).unwrap());
    let cfg = SamplerConfig { patch_dhw: [16, 16, 16], batch_size: 2, seed: 9, ..SamplerConfig::default() };
    let one: Vec<_> = BatchStream::new(ds.clone(), cfg.clone(), 0, 1, 2).unwrap().take(12).collect();
    let three: Vec<_> = BatchStream::new(ds.clone(), cfg.clone(), 0, 3, 2).unwrap().take(12).collect();
    for (a, b) in one.iter().zip(&three) {
        assert_eq!(a.index, b.index);
        assert_eq!(a.origins, b.origins);
        assert_eq!(a.image, b.image);
        assert_eq!(a.weights, b.weights);
    }
    // Resuming at batch 5 continues the same stream.
    let resumed: Vec<_> = BatchStream::new(ds, cfg, 5, 2, 2).unwrap().take(7).collect();
    for (a, b) in resumed.iter().zip(&one[5..]) {
        assert_eq!(a.origins, b.origins);
        assert_eq!(a.image, b.image);
    }
}

/// The committed tumour statistics are what the authors' records give
/// (scripts/derive_lits_tumour_stats.py --check).
#[test]
fn tumour_statistics_are_derived_from_the_paper_records() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let o = std::process::Command::new(iw_test_support::python())
        .arg(root.join("scripts/derive_lits_tumour_stats.py"))
        .arg("--check")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s = stats();
    assert_eq!(s.tumours_per_case.len(), 28);
    assert_eq!(s.diameters_voxels.len(), s.tumours_per_case.iter().sum::<usize>());
    let small = s.diameters_voxels.iter().filter(|&&d| d < 12.0).count();
    assert_eq!(small, 66, "about half of the 138 LiTS test tumours are below 12 voxels");
}
