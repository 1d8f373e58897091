//! The lesion gallery on a hand-made case: two lesions, two configurations, one false positive.
//! Found / missed and the false positive follow `iw_metrics::evaluate_case`'s records; records
//! that do not match the volumes are an error naming the file.
use iw_core::{Geometry, Volume};
use iw_report::gallery::{build, tile_bytes, within, GalleryRun, GallerySource};
use ndarray::Array3;
use std::path::Path;

fn write_run(dir: &Path, mask: &Array3<u8>, prob: &Array3<f32>) {
    std::fs::create_dir_all(dir.join("test_predictions")).unwrap();
    std::fs::create_dir_all(dir.join("test_metrics")).unwrap();
    iw_io::write_volume(dir.join("test_predictions/c1_prob.nii.gz"), &Volume::new(prob.clone(), Geometry::default()))
        .unwrap();
    let gt = mask.mapv(f32::from);
    let e = iw_metrics::evaluate_case(gt.view(), prob.view(), None).unwrap();
    let recs = [("c1".to_string(), e.records)].into_iter().collect();
    iw_metrics::write_records(&dir.join("test_metrics/prc_records.json"), &recs).unwrap();
}

/// The gallery's view of a run folder written by [`write_run`].
fn gallery_run(method: &str, dir: &Path) -> GalleryRun {
    GalleryRun {
        method: method.into(),
        dir: dir.to_path_buf(),
        records: dir.join("test_metrics/prc_records.json"),
        probabilities: [("c1".to_string(), dir.join("test_predictions/c1_prob.nii.gz"))].into_iter().collect(),
    }
}

#[test]
fn tiles_follow_the_records() {
    let d = tempfile::tempdir().unwrap();
    let shape = (12, 40, 40);
    let mut mask = Array3::<u8>::zeros(shape);
    // A small lesion (1 voxel) and a large one (3 x 6 x 6).
    mask[[3, 5, 5]] = 1;
    for z in 6..9 {
        for y in 20..26 {
            for x in 20..26 {
                mask[[z, y, x]] = 1;
            }
        }
    }
    let image = Volume::new(Array3::from_shape_fn(shape, |(z, y, x)| (z + y + x) as f32), Geometry::default());
    iw_data::prepared::write_case(&d.path().join("prepared/cases"), "c1", &image, &mask, [0; 3], [12, 40, 40], vec![])
        .unwrap();
    // "base" finds the large lesion only; "iwbase" finds both and adds a false positive.
    let mut base = Array3::<f32>::zeros(shape);
    base[[7, 22, 22]] = 0.9;
    let mut iw = base.clone();
    iw[[3, 5, 5]] = 0.8;
    iw[[10, 35, 35]] = 0.7;
    iw[[10, 35, 36]] = 0.7;
    let (rb, ri) = (d.path().join("runs/base/experiment_0"), d.path().join("runs/iwbase/experiment_0"));
    write_run(&rb, &mask, &base);
    write_run(&ri, &mask, &iw);
    let src = GallerySource {
        prepared: d.path().join("prepared"),
        window: Some([0.0, 100.0]),
        runs: vec![gallery_run("base", &rb), gallery_run("iwbase", &ri)],
        small_below: 3.0,
        max_lesions: 100,
        max_false_positives: 5,
    };
    let g = build(&src).unwrap();
    assert_eq!(g.lesions.len(), 2);
    let (small, large) = (&g.lesions[0], &g.lesions[1]);
    assert!(small.small && small.voxels == 1 && small.centre_xyz == [5, 5, 3]);
    assert_eq!(small.found, vec![false, true], "only iw finds the small lesion");
    assert_eq!(large.found, vec![true, true]);
    assert_eq!((large.found_mask.as_str(), large.voxels), ("11", 108));
    assert_eq!(g.false_positives.len(), 1);
    let fp = &g.false_positives[0];
    assert_eq!((fp.by.as_deref(), fp.voxels, fp.centre_xyz), (Some("iwbase"), 2, [36, 35, 10]));
    for t in g.lesions.iter().chain(&g.false_positives) {
        assert_eq!(t.views.len(), 3);
        for v in &t.views {
            assert!(v.png.starts_with("data:image/png;base64,"));
            assert_eq!(v.pred.len(), 2);
        }
        // The axial slice through the centre shows the component's own outline.
        assert!(t.by.is_some() || !t.views[0].gt.is_empty());
    }
    // iw's contour crosses the small lesion's axial view, the base loss's does not.
    assert!(!small.views[0].pred[1].is_empty() && small.views[0].pred[0].is_empty());
    // A byte budget keeps the smallest lesions first: room for the first tile only.
    let first = {
        let t = &g.lesions[0];
        600 + t
            .views
            .iter()
            .map(|v| 200 + v.png.len() + v.gt.len() + v.pred.iter().map(String::len).sum::<usize>())
            .sum::<usize>()
    };
    assert_eq!(tile_bytes(&g.lesions[0]), first);
    let (l, fp) = within(&g.lesions, &g.false_positives, first + 10);
    assert_eq!((l.len(), fp.len()), (1, 0));
    assert!(l[0].small, "the smallest lesion first");
    assert_eq!(within(&g.lesions, &g.false_positives, 100).0.len(), 0);
    let all: usize = g.lesions.iter().chain(&g.false_positives).map(tile_bytes).sum();
    let (l, fp) = within(&g.lesions, &g.false_positives, all);
    assert_eq!((l.len(), fp.len()), (2, 1), "every tile when all fit");
    // Records that do not match the volumes: an error naming the records file.
    write_run(&rb, &Array3::zeros(shape), &base);
    let e = build(&src).unwrap_err().to_string();
    assert!(e.contains("base/experiment_0/test_metrics/prc_records.json") && e.contains("lesion records"), "{e}");
}
