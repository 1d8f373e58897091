//! A case too large for the machine is an error, not an abort (issue 29): `evaluate_case` on
//! zero-stride views of 100000^3 voxels returns `Error::Core(OutOfMemory)` at once.
use iw_metrics::{evaluate_case, Error};
use ndarray::{ArrayView3, ShapeBuilder};

fn zero_stride(one: &[f32]) -> ArrayView3<'_, f32> {
    ArrayView3::from_shape((100_000, 100_000, 100_000).strides((0, 0, 0)), one).expect("a zero-stride view")
}

#[test]
fn a_huge_case_is_out_of_memory() {
    let (g, p) = ([1f32], [0.9f32]);
    for logits in [None, Some(zero_stride(&p))] {
        let e = evaluate_case(zero_stride(&g), zero_stride(&p), logits).unwrap_err();
        assert!(matches!(e, Error::Core(iw_core::Error::OutOfMemory { bytes: 1_000_000_000_000_000, .. })), "{e}");
        assert!(e.to_string().contains("the ground-truth mask"), "{e}");
    }
}
