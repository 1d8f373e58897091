//! Input checks shared by every loss: shapes before maths, and said.
use crate::error::{Error, Result};
use tch::{Kind, Tensor};

/// Checks that `target` (and `weight`) have the logits' shape, with a batch dimension first;
/// returns the target and weight as the logits' float kind.
pub(crate) fn prepare(
    op: &'static str,
    logits: &Tensor,
    target: &Tensor,
    weight: Option<&Tensor>,
) -> Result<(Tensor, Option<Tensor>)> {
    let shape = logits.size();
    if shape.len() < 2 {
        return Err(Error::Input { op, message: format!("logits need a batch dimension first, got shape {shape:?}") });
    }
    let kind = logits.kind();
    if !matches!(kind, Kind::Float | Kind::Double | Kind::Half | Kind::BFloat16) {
        return Err(Error::Input { op, message: format!("logits must be floating point, got {kind:?}") });
    }
    if target.size() != shape {
        return Err(Error::Shape { op, what: "target", expected: shape, got: target.size() });
    }
    let w = match weight {
        Some(w) if w.size() != shape => {
            return Err(Error::Shape { op, what: "weight", expected: shape, got: w.size() })
        }
        Some(w) => Some(w.f_to_kind(kind)?),
        None => None,
    };
    Ok((target.f_to_kind(kind)?, w))
}
