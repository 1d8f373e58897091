//! The LUNA16 path: lung-mask morphology against scipy.ndimage, the readers' consensus on
//! hand-made contours, and the preparation of a hand-built raw scan.
mod common;
use common::*;
use iw_data::lidc::{LidcRead, Reader, ReaderNodule, Roi};
use iw_data::luna16::{annotation_voxels, consensus_target, find_layout, lung_mask, prepare_case, Annotation};
use iw_data::morphology::{dilate, erode};
use iw_data::{read_volume, write_volume, Geometry, Volume};
use ndarray::Array3;

fn ellipsoid(shape: (usize, usize, usize), c: [f64; 3], r: [f64; 3]) -> Array3<bool> {
    Array3::from_shape_fn(shape, |(z, y, x)| {
        let p = [z as f64, y as f64, x as f64];
        (0..3).map(|a| ((p[a] - c[a]) / r[a]).powi(2)).sum::<f64>() <= 1.0
    })
}

/// Two lungs (labels 3 and 4) with vessel-like holes and a trachea (5) reaching the border.
fn lung_labels(shape: (usize, usize, usize), seed: u64) -> Array3<f32> {
    let (d, h, w) = shape;
    let left = ellipsoid(
        shape,
        [d as f64 / 2.0, h as f64 / 2.0, w as f64 * 0.3],
        [d as f64 * 0.45, h as f64 * 0.35, w as f64 * 0.18],
    );
    let right = ellipsoid(
        shape,
        [d as f64 / 2.0, h as f64 / 2.0, w as f64 * 0.7],
        [d as f64 * 0.45, h as f64 * 0.35, w as f64 * 0.18],
    );
    let mut s = seed | 1;
    let mut rnd = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let mut lab = Array3::<f32>::zeros(shape);
    for ((z, y, x), v) in lab.indexed_iter_mut() {
        let hole = rnd() % 9 == 0;
        if left[[z, y, x]] && !hole {
            *v = 3.0;
        } else if right[[z, y, x]] && !hole {
            *v = 4.0;
        } else if z + 3 > d / 2 && (y as i64 - h as i64 / 2).abs() <= 1 && (x as i64 - w as i64 / 2).abs() <= 1 {
            *v = 5.0;
        }
    }
    lab
}

#[test]
fn lung_mask_and_morphology_match_scipy() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [(40usize, 64usize, 64usize, 1u64), (32, 48, 56, 7)];
    for (i, &(d, h, w, seed)) in cases.iter().enumerate() {
        let lab = lung_labels((d, h, w), seed);
        write_volume(dir.path().join(format!("labels_{i}.nii")), &Volume::new(lab, Geometry::default())).unwrap();
        let mut s = seed;
        let m = Array3::from_shape_simple_fn((d, h, w), || {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            u8::from((s >> 33) % 5 < 2)
        });
        write_volume(dir.path().join(format!("mask_{i}.nii")), &Volume::new(m, Geometry::default())).unwrap();
    }
    reference(&["morphology", dir.path().to_str().unwrap()]);
    for i in 0..cases.len() {
        let lab = read_volume(dir.path().join(format!("labels_{i}.nii"))).unwrap().to_f32().data;
        let ours = lung_mask(&lab).unwrap();
        let scipy = read_volume(dir.path().join(format!("lungs_labels_{i}.nii"))).unwrap().to_f32().data;
        assert_eq!(ours, scipy.mapv(|v| v != 0.0), "lung mask {i}");
        assert!(ours.iter().any(|&v| v));
        let m = read_volume(dir.path().join(format!("mask_{i}.nii"))).unwrap().to_f32().data.mapv(|v| v != 0.0);
        for k in [1u32, 3, 7] {
            let sd = read_volume(dir.path().join(format!("dilate{k}_mask_{i}.nii"))).unwrap().to_f32().data;
            let se = read_volume(dir.path().join(format!("erode{k}_mask_{i}.nii"))).unwrap().to_f32().data;
            assert_eq!(dilate(m.view(), k), sd.mapv(|v| v != 0.0), "dilation {k}, mask {i}");
            assert_eq!(erode(m.view(), k), se.mapv(|v| v != 0.0), "erosion {k}, mask {i}");
        }
    }
}

fn square(z: f64, x0: i64, y0: i64, side: i64) -> Roi {
    Roi { z_mm: z, inclusion: true, points: vec![(x0, y0), (x0 + side, y0), (x0 + side, y0 + side), (x0, y0 + side)] }
}

fn reader(nodules: Vec<Vec<Roi>>) -> Reader {
    Reader {
        radiologist: String::new(),
        nodules: nodules.into_iter().enumerate().map(|(i, rois)| ReaderNodule { id: format!("N{i}"), rois }).collect(),
    }
}

#[test]
fn consensus_keeps_voxels_two_of_four_readers_marked_near_an_annotation() {
    // Geometry: 1 mm in-plane, 2 mm slices starting at z = -10 mm.
    let g = Geometry { spacing_xyz_mm: [1.0, 1.0, 2.0], origin_xyz_mm: [0.0, 0.0, -10.0], ..Geometry::default() };
    let shape = [10, 40, 40];
    // Slices k = 4 and 5 are at z = -2 and 0 mm.
    let a = |x0| vec![square(-2.0, x0, 10, 4), square(0.0, x0, 10, 4)];
    let readers = vec![
        reader(vec![a(10)]),                               // x 10..=14
        reader(vec![a(12)]),                               // x 12..=16
        reader(vec![a(14), vec![square(0.0, 30, 30, 2)]]), // x 14..=18, and a far nodule
        reader(vec![vec![square(0.0, 30, 30, 2)]]),        // only the far nodule
    ];
    let read = LidcRead { series_uid: "s".into(), readers };
    let ann = [Annotation { series_uid: "s".into(), center_xyz_mm: [14.0, 12.0, -1.0], diameter_mm: 5.0 }];
    let centres = annotation_voxels(&ann, &g, false);
    assert_eq!(centres, vec![[4.5, 12.0, 14.0]]);
    let (t, stats) = consensus_target(&[read.clone()], shape, &g, &centres, 2);
    // Columns 12..=16 are marked by at least two readers (10..=14, 12..=16, 14..=18), rows 10..=14.
    for z in 0..10 {
        for y in 0..40 {
            for x in 0..40 {
                let want = (4..=5).contains(&z) && (10..=14).contains(&y) && (12..=16).contains(&x);
                assert_eq!(t[[z, y, x]] == 1, want, "voxel {z} {y} {x}");
            }
        }
    }
    assert_eq!(stats.matched_per_reader, vec![1, 1, 1, 0]);
    assert_eq!(stats.unmatched, 2, "the far nodule of readers 3 and 4 is not near the annotation");
    assert_eq!(stats.annotations_matched, 1);
    // Mirrored annotation (reverse list): the centre is given at (-x, -y).
    let mirrored = [Annotation { center_xyz_mm: [-14.0, -12.0, -1.0], ..ann[0].clone() }];
    assert_eq!(annotation_voxels(&mirrored, &g, true), centres);
    // Without an annotation near them, no nodule counts.
    let far = annotation_voxels(&[Annotation { center_xyz_mm: [0.0, 39.0, 8.0], ..ann[0].clone() }], &g, false);
    let (t, _) = consensus_target(&[read], shape, &g, &far, 2);
    assert_eq!(t.iter().filter(|&&v| v != 0).count(), 0);
}

#[test]
fn exclusion_contours_cut_holes_and_off_scan_contours_are_counted() {
    let g = Geometry::default();
    let mut rois = vec![square(3.0, 5, 5, 10)];
    rois.push(Roi { inclusion: false, ..square(3.0, 8, 8, 3) });
    rois.push(square(50.0, 5, 5, 10)); // z = 50 mm is beyond the 8 slices
    let n = ReaderNodule { id: "n".into(), rois };
    let (vox, off) = iw_data::luna16::nodule_voxels(&n, [8, 20, 20], &g);
    assert_eq!(off, 1);
    assert_eq!(vox.len(), 121 - 16);
}

#[test]
fn prepares_a_hand_built_scan() {
    let raw = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let (d, h, w) = (40usize, 64usize, 64usize);
    let g = Geometry { spacing_xyz_mm: [0.8, 0.8, 2.5], origin_xyz_mm: [-20.0, -30.0, -100.0], ..Geometry::default() };
    let lab = lung_labels((d, h, w), 3);
    let ct =
        Array3::from_shape_fn(
            (d, h, w),
            |(z, y, x)| if lab[[z, y, x]] == 3.0 || lab[[z, y, x]] == 4.0 { -850i16 } else { 40 },
        );
    std::fs::create_dir_all(raw.path().join("subset8")).unwrap();
    std::fs::create_dir_all(raw.path().join("seg-lungs-LUNA16")).unwrap();
    std::fs::create_dir_all(raw.path().join("tcia-lidc-xml/185")).unwrap();
    write_volume(raw.path().join("subset8/1.2.3.mhd"), &Volume::new(ct, g.clone())).unwrap();
    write_volume(raw.path().join("seg-lungs-LUNA16/1.2.3.mhd"), &Volume::new(lab.mapv(|v| v as u8), g.clone()))
        .unwrap();
    // A nodule in the left lung, slices 19 and 20, pixels x 17..=21, y 30..=34, by three readers.
    let z = |k: f64| -100.0 + 2.5 * k;
    let rois = vec![square(z(19.0), 17, 30, 4), square(z(20.0), 17, 30, 4)];
    let read = LidcRead { series_uid: "1.2.3".into(), readers: (0..3).map(|_| reader(vec![rois.clone()])).collect() };
    std::fs::write(raw.path().join("tcia-lidc-xml/185/069.xml"), iw_data::lidc::to_lidc_xml(&read)).unwrap();
    let c = g.index_xyz_to_world([19.0, 32.0, 19.5]);
    std::fs::write(
        raw.path().join("annotations.csv"),
        iw_data::luna16::annotations_csv(&[Annotation {
            series_uid: "1.2.3".into(),
            center_xyz_mm: c,
            diameter_mm: 4.0,
        }]),
    )
    .unwrap();
    let layout = find_layout(raw.path()).unwrap();
    let scan = &layout.scans["1.2.3"];
    assert_eq!(scan.subset, 8);
    assert!(scan.lungs.is_some());
    assert_eq!(layout.xml["1.2.3"].len(), 1);
    let cases = out.path().join("cases");
    std::fs::create_dir_all(&cases).unwrap();
    let (meta, cons) =
        prepare_case(&cases, scan, &layout.annotations["1.2.3"], &layout.xml["1.2.3"], false).unwrap().unwrap();
    assert_eq!(cons.matched_per_reader, vec![1, 1, 1]);
    assert_eq!(meta.components.len(), 1);
    assert_eq!(meta.components[0].voxels, 2 * 25);
    // The crop is the closed, dilated lung mask's bounding box + 5, and the CT outside the
    // lungs is the image minimum.
    let case = iw_data::prepared::PreparedCase::open(&cases, "1.2.3").unwrap();
    let lungs = lung_mask(&lab).unwrap();
    let mut lo = [usize::MAX; 3];
    for ((z, y, x), &m) in lungs.indexed_iter() {
        if m {
            lo = [lo[0].min(z), lo[1].min(y), lo[2].min(x)];
        }
    }
    assert_eq!(meta.crop_start_zyx, lo.map(|v| v.saturating_sub(5)));
    assert_eq!(case.meta.intensity_min, -850.0);
    let corner = case.image()[0];
    assert_eq!(corner, -850.0, "outside the lungs is the minimum");
    // No XML for an annotated scan: skipped with the reason.
    let skip = prepare_case(&cases, scan, &layout.annotations["1.2.3"], &[], false).unwrap().unwrap_err();
    assert!(skip.0.contains("no LIDC XML"), "{}", skip.0);
}
