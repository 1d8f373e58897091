//! Volumes too large for the machine are errors, not aborts (issue 29): a zero-stride view of
//! 100000^3 voxels (one byte of memory) given to `try_label` / `try_inverse_weights` comes back
//! as `Error::OutOfMemory` naming the buffer and its exact size, at once (the label image is
//! allocated before any voxel is read), and a size that does not even fit `usize` is reported
//! exactly too. (An abort would kill this test binary, which `cargo test` reports.)
use iw_core::{try_inverse_weights, try_label, Connectivity, Error, WeightBounds};
use ndarray::{ArrayView3, ShapeBuilder};
use std::time::Instant;

fn zero_stride<T>(shape: (usize, usize, usize), one: &[T]) -> ArrayView3<'_, T> {
    ArrayView3::from_shape(shape.strides((0, 0, 0)), one).expect("a zero-stride view")
}

fn oom_bytes(e: Error) -> (u128, String) {
    let msg = e.to_string();
    match e {
        Error::OutOfMemory { bytes, .. } => (bytes, msg),
        e => panic!("expected OutOfMemory, got {e}"),
    }
}

#[test]
fn labels_of_a_huge_view_are_out_of_memory_at_once() {
    let t = Instant::now();
    for conn in [Connectivity::C6, Connectivity::C26] {
        let (bytes, msg) = oom_bytes(try_label(zero_stride((100_000, 100_000, 100_000), &[1u8]), conn).unwrap_err());
        assert_eq!(bytes, 4_000_000_000_000_000);
        assert!(msg.contains("the labels of a 100000 x 100000 x 100000 volume") && msg.contains("3.55 PiB"), "{msg}");
        let (bytes, _) = oom_bytes(try_label(zero_stride((100_000, 100_000, 100_000), &[0f32]), conn).unwrap_err());
        assert_eq!(bytes, 4_000_000_000_000_000);
    }
    // 2^62 voxels: 2^64 bytes of labels, beyond usize.
    let (bytes, _) =
        oom_bytes(try_label(zero_stride((1 << 20, 1 << 20, 1 << 22), &[0u8]), Connectivity::C26).unwrap_err());
    assert_eq!(bytes, 1u128 << 64);
    assert!(t.elapsed().as_secs() < 5, "refused only after reading voxels: {:?}", t.elapsed());
}

#[test]
fn weights_of_a_huge_view_are_out_of_memory_at_once() {
    let (bytes, msg) = oom_bytes(
        try_inverse_weights(zero_stride((100_000, 100_000, 100_000), &[3u32]), WeightBounds::default()).unwrap_err(),
    );
    assert_eq!(bytes, 4_000_000_000_000_000);
    assert!(msg.contains("weights of a 100000 x 100000 x 100000 patch"), "{msg}");
}

#[test]
fn rows_too_long_for_run_ids_are_an_error() {
    let e = try_label(zero_stride((1, 1, u32::MAX as usize), &[1u8]), Connectivity::C26).unwrap_err();
    assert!(matches!(e, Error::InvalidArgument(_)) && e.to_string().contains("rows of 4294967295 voxels"), "{e}");
}

#[test]
fn empty_volumes_of_any_extent_cost_nothing() {
    // Zero voxels, however large the other axes: no row index of 2^40 rows is allocated.
    let cc = try_label(zero_stride((1 << 20, 1 << 20, 0), &[1u8]), Connectivity::C26).unwrap();
    assert_eq!((cc.count(), cc.labels.len(), cc.background_voxels), (0, 0, 0));
}

#[test]
fn huge_but_allocatable_views_are_labelled() {
    // 16M voxels of one byte of memory: 64 MiB of labels, one component.
    let cc = try_label(zero_stride((64, 512, 512), &[1u8]), Connectivity::C26).unwrap();
    assert_eq!(cc.count(), 1);
    assert_eq!(cc.components[0].voxels, 64 * 512 * 512);
    assert!(cc.labels.iter().all(|&l| l == 1));
    let w = try_inverse_weights(cc.labels.view(), WeightBounds::new(0.0, 10.0).unwrap()).unwrap();
    assert!(w.iter().all(|&x| x == 0.5)); // N / ((K + 1) N)
}
