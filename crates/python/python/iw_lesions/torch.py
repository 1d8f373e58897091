"""The paper's losses as ``torch.nn.Module`` s, in MONAI's style.

Every loss is ``forward(logits, target, weight=None)`` on ``[B, 1, D, H, W]`` tensors (any
shape with the batch first works; ``target`` in {0, 1}), with ``sigmoid=True`` (the input is
logits; ``False``: probabilities) and ``reduction`` (``"mean"``, ``"sum"`` or ``"none"``).
``weight`` is a per-voxel map of the target's shape -- the inverse weights of
:func:`iw_lesions.inverse_weights` or ``InverseWeightsd`` -- and goes inside every voxel term.
With p = sigmoid(x), t the target, w the weight (1 when absent), S(.) a sum over the voxels of
one sample, eps = 1e-10 (the same formulas, to the operation, as the Rust crate iw-losses; both
are tested against crates/losses/tests/golden/losses.safetensors)::

    BCE   = mean( w [max(x, 0) - x t + ln(1 + e^-|x|)] )
    WCE   = mean( w [-pos_w t ln p - (1 - t) ln(1 - p)] ),  pos_w = (numel - sum p) / sum p
            (deep_pipe's adaptive weight over the whole batch, gradient through it)
    focal = mean( w alpha_t (1 - p_t)^gamma BCE ),  gamma 2, alpha 0.75
    Dice  = 1 - (2 S(w p t) + eps) / (S(w (p^2 + t^2)) + eps)                  per sample
    GDL   = 1 - (2 sum_c v_c S(w p_c t_c) + eps) / (sum_c v_c S(w (p_c^2 + t_c^2)) + eps),
            c = fg, bg;  v_c = 1 / (1 + S(t_c)^2)                                per sample
    ASL   = 1 - ((1 + b^2) S(w p t) + eps) / (S(w (b^2 t^2 + p^2)) + eps),  b = 1.5

Reductions: the voxel-wise losses (BCE, WCE, focal) reduce over voxels ("none": the voxel map),
the region losses (Dice, GDL, ASL) over the batch of per-sample values ("none": ``[B]``).

:func:`make_loss` builds the paper's ten configurations by name (``bce``, ``iwbce``, ``wce``,
``dl``, ``iwdl``, ``gdl``, ``fl``, ``iwfl``, ``asl``, ``iwasl``; also ``iwwce`` and ``iwgdl``).
An ``iw`` configuration is :class:`InverseWeighted`: it uses the ``weight`` it is given, or, when
none is, computes the weights of each sample's target patch (26-connected components of the
patch). :class:`DeepSupervisionLoss` carries one full-resolution weight map to every scale.
"""
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

EPS = 1e-10

__all__ = ["BCELoss", "WCELoss", "FocalLoss", "DiceLoss", "GeneralizedDiceLoss", "AsymmetricSimilarityLoss",
           "InverseWeighted", "DeepSupervisionLoss", "make_loss", "PAPER_CONFIGURATIONS", "batch_inverse_weights"]

#: The paper's ten loss configurations.
PAPER_CONFIGURATIONS = ("bce", "iwbce", "wce", "dl", "iwdl", "gdl", "fl", "iwfl", "asl", "iwasl")


def _check(name, x, t, w):
    if t.shape != x.shape:
        raise ValueError(f"{name}: target shape {list(t.shape)} does not match logits shape {list(x.shape)}")
    if w is not None and w.shape != x.shape:
        raise ValueError(f"{name}: weight shape {list(w.shape)} does not match logits shape {list(x.shape)}")
    if x.dim() < 2:
        raise ValueError(f"{name}: need a batch dimension first, got shape {list(x.shape)}")
    t = t.to(x.dtype)
    w = None if w is None else w.to(device=x.device, dtype=x.dtype)
    return t, w


def _reduce(v, reduction):
    if reduction == "mean":
        return v.mean()
    if reduction == "sum":
        return v.sum()
    if reduction == "none":
        return v
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', not {reduction!r}")


class _Loss(nn.Module):
    name = "loss"

    def __init__(self, sigmoid=True, reduction="mean"):
        super().__init__()
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"reduction must be 'mean', 'sum' or 'none', not {reduction!r}")
        self.sigmoid = sigmoid
        self.reduction = reduction

    def _probs(self, x):
        return torch.sigmoid(x) if self.sigmoid else x

    def _log_p_q(self, x):
        """ln p and ln(1 - p), stable in logits."""
        if self.sigmoid:
            return F.logsigmoid(x), F.logsigmoid(-x)
        return torch.log(x).clamp_min(-100.0), torch.log1p(-x).clamp_min(-100.0)


class BCELoss(_Loss):
    """Binary cross-entropy (mean over voxels)."""
    name = "bce"

    def forward(self, logits, target, weight=None):
        t, w = _check(self.name, logits, target, weight)
        if self.sigmoid:
            v = F.binary_cross_entropy_with_logits(logits, t, weight=w, reduction="none")
        else:
            v = F.binary_cross_entropy(logits, t, weight=w, reduction="none")
        return _reduce(v, self.reduction)


class WCELoss(_Loss):
    """Adaptive weighted cross-entropy (deep_pipe's ``weighted_cross_entropy_with_logits``,
    ``adaptive=True``): ``pos_w = (numel - sum p) / sum p`` over the whole batch, with its
    gradient."""
    name = "wce"

    def forward(self, logits, target, weight=None):
        t, w = _check(self.name, logits, target, weight)
        p = self._probs(logits)
        mass = p.sum()
        pos_w = (logits.numel() - mass) / mass
        log_p, log_q = self._log_p_q(logits)
        v = -(t * log_p * pos_w + (1 - t) * log_q)
        if w is not None:
            v = v * w
        return _reduce(v, self.reduction)


class FocalLoss(_Loss):
    """Focal loss (Lin et al.): ``alpha_t (1 - p_t)^gamma BCE``; paper: gamma 2, alpha 0.75."""
    name = "focal"

    def __init__(self, gamma=2.0, alpha=0.75, sigmoid=True, reduction="mean"):
        super().__init__(sigmoid, reduction)
        self.gamma, self.alpha = float(gamma), float(alpha)

    def forward(self, logits, target, weight=None):
        t, w = _check(self.name, logits, target, weight)
        if self.sigmoid:
            ce = F.binary_cross_entropy_with_logits(logits, t, reduction="none")
        else:
            ce = F.binary_cross_entropy(logits, t, reduction="none")
        p = self._probs(logits)
        one_minus_pt = t * (1 - 2 * p) + p
        mod = one_minus_pt.square() if self.gamma == 2.0 else one_minus_pt.clamp_min(0).pow(self.gamma)
        coeff = t * (2 * self.alpha - 1) + (1 - self.alpha)
        if w is not None:
            coeff = coeff * w
        return _reduce(ce * mod * coeff, self.reduction)


def _sum(v):
    return v.reshape(v.shape[0], -1).sum(1)


def _class_sums(p, t, w):
    wt = t if w is None else t * w
    return _sum(p * wt), _sum(p * p if w is None else p * p * w), _sum(wt * t)


class DiceLoss(_Loss):
    """Soft Dice (Milletari et al., squared denominator), per sample."""
    name = "dice"

    def forward(self, logits, target, weight=None):
        t, w = _check(self.name, logits, target, weight)
        p = self._probs(logits)
        inter, pp, tt = _class_sums(p, t, w)
        return _reduce(1 - (2 * inter + EPS) / (pp + tt + EPS), self.reduction)


class GeneralizedDiceLoss(_Loss):
    """Generalized Dice (Sudre et al.) over the foreground and background, per sample."""
    name = "generalized_dice"

    def forward(self, logits, target, weight=None):
        t, w = _check(self.name, logits, target, weight)
        p = self._probs(logits)
        q, u = 1 - p, 1 - t
        v_fg, v_bg = 1 / (_sum(t).square() + 1), 1 / (_sum(u).square() + 1)
        i_fg, pp_fg, tt_fg = _class_sums(p, t, w)
        i_bg, pp_bg, tt_bg = _class_sums(q, u, w)
        num = 2 * (v_fg * i_fg + v_bg * i_bg)
        den = v_fg * (pp_fg + tt_fg) + v_bg * (pp_bg + tt_bg)
        return _reduce(1 - (num + EPS) / (den + EPS), self.reduction)


class AsymmetricSimilarityLoss(_Loss):
    """Asymmetric similarity (Hashemi et al.); ``beta > 1`` favours recall (paper: 1.5)."""
    name = "asymmetric_similarity"

    def __init__(self, beta=1.5, sigmoid=True, reduction="mean"):
        super().__init__(sigmoid, reduction)
        self.beta = float(beta)

    def forward(self, logits, target, weight=None):
        t, w = _check(self.name, logits, target, weight)
        p = self._probs(logits)
        b2 = self.beta ** 2
        inter, pp, tt = _class_sums(p, t, w)
        return _reduce(1 - ((1 + b2) * inter + EPS) / (b2 * tt + pp + EPS), self.reduction)


def batch_inverse_weights(target, w_min=1.0, w_max=2e5, connectivity=26, labels=None):
    """Inverse weights of each sample of a ``[B, 1, ...]`` (or ``[B, ...]``) batch, as a float32
    tensor on the target's device: ``iw_lesions.inverse_weights`` per sample (a mask is
    labelled per sample; a label batch is used as it is)."""
    from . import inverse_weights

    arr = target.detach().cpu().numpy() if isinstance(target, torch.Tensor) else np.asarray(target)
    out = np.empty(arr.shape, np.float32)
    for b in range(arr.shape[0]):
        s = arr[b]
        while s.ndim > 3 and s.shape[0] == 1:
            s = s[0]
        out[b] = inverse_weights(s, w_min, w_max, connectivity, labels).reshape(out[b].shape)
    w = torch.from_numpy(out)
    return w.to(target.device) if isinstance(target, torch.Tensor) else w


class InverseWeighted(nn.Module):
    """The ``iw`` configuration of a base loss: ``forward(logits, target, weight=None)`` uses
    ``weight`` when given (e.g. ``InverseWeightsd``'s map of the whole-volume labels), else the
    inverse weights of each sample's target patch (its own 26-connected components)."""

    def __init__(self, base, w_min=1.0, w_max=2e5, connectivity=26):
        super().__init__()
        self.base = base
        self.w_min, self.w_max, self.connectivity = w_min, w_max, connectivity
        self.last_weight = None

    def forward(self, logits, target, weight=None):
        if weight is None:
            weight = batch_inverse_weights(target > 0.5, self.w_min, self.w_max, self.connectivity, labels=False)
        self.last_weight = weight.detach()
        return self.base(logits, target, weight)


_BASES = {"bce": BCELoss, "wce": WCELoss, "dl": DiceLoss, "gdl": GeneralizedDiceLoss, "fl": FocalLoss,
          "asl": AsymmetricSimilarityLoss}


def make_loss(name, **kwargs):
    """A configuration by the paper's name: ``bce``, ``wce``, ``dl``, ``gdl``, ``fl``, ``asl``,
    and each with the ``iw`` prefix (``iwdl``, ...). ``kwargs`` go to the base loss
    (``sigmoid``, ``reduction``, ``gamma``, ``alpha``, ``beta``)."""
    iw = name.startswith("iw")
    base = name[2:] if iw else name
    if base not in _BASES:
        raise ValueError(f"unknown base loss '{base}' (bce, wce, dl, gdl, fl, asl, each with an optional iw prefix)")
    loss = _BASES[base](**kwargs)
    return InverseWeighted(loss) if iw else loss


def _resize(x, shape, mode):
    if tuple(x.shape[2:]) == tuple(shape):
        return x
    return F.interpolate(x.float(), size=tuple(shape), mode=mode).to(x.dtype)


class DeepSupervisionLoss(nn.Module):
    """A loss over the outputs of every scale of a deep-supervised network.

    ``forward(outputs, target, weight=None)``: ``outputs`` a list (highest resolution first);
    ``target`` and ``weight`` either lists of the same length (nnU-Net's downsampled targets) or
    one full-resolution tensor each, resized to every scale by ``mode`` (nearest-exact, the rule
    nnU-Net downsamples its targets with, so a weight stays on its voxel's target). Weights of
    the scales: ``scale_weights`` or nnU-Net's ``1 / 2^i``, normalised to sum 1."""

    def __init__(self, loss, scale_weights=None, mode="nearest-exact"):
        super().__init__()
        self.loss = loss
        self.scale_weights = None if scale_weights is None else [float(s) for s in scale_weights]
        self.mode = mode

    def forward(self, outputs, target, weight=None):
        if not isinstance(outputs, (list, tuple)):
            outputs = [outputs]
        n = len(outputs)
        sw = self.scale_weights or [1 / 2 ** i for i in range(n)]
        if len(sw) != n:
            raise ValueError(f"deep supervision: {len(sw)} scale weights for {n} outputs")
        total = sum(sw)
        targets = list(target) if isinstance(target, (list, tuple)) else [target] * n
        if weight is None and isinstance(self.loss, InverseWeighted):
            # One weight map of the full-resolution target patch, carried to every scale.
            m = self.loss
            weight = batch_inverse_weights(targets[0] > 0.5, m.w_min, m.w_max, m.connectivity, labels=False)
        weights = list(weight) if isinstance(weight, (list, tuple)) else [weight] * n
        if len(targets) != n or len(weights) != n:
            raise ValueError(f"deep supervision: {n} outputs, {len(targets)} targets, {len(weights)} weight maps")
        out = 0
        for o, t, w, s in zip(outputs, targets, weights, sw):
            if s == 0:
                continue
            t = _resize(t, o.shape[2:], self.mode)
            w = None if w is None else _resize(w, o.shape[2:], self.mode)
            out = out + (s / total) * self.loss(o, t, w)
        return out
