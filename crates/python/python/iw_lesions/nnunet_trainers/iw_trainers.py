"""nnU-Net v2 trainers with the paper's losses and inverse weights (see iw_lesions.nnunet).
This folder is what ``nnUNet_extTrainer`` points at; nnU-Net imports this module by name."""
import numpy as np
import torch
from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer
from torch import nn

from iw_lesions.torch import DeepSupervisionLoss, batch_inverse_weights, make_loss


def foreground_logit(x):
    """One foreground logit from C softmax channels: ``logsumexp(x[1:]) - x[0]``."""
    if x.shape[1] == 1:
        return x
    return torch.logsumexp(x[:, 1:], dim=1, keepdim=True) - x[:, :1]


class IWnnUNetLoss(nn.Module):
    """nnU-Net's ``loss(output, target)`` for one of the paper's configurations: outputs and
    targets are lists (deep supervision, highest resolution first) or tensors."""

    def __init__(self, config, scale_weights=None, w_min=1.0, w_max=2e5):
        super().__init__()
        self.inverse = config.startswith("iw")
        self.base = make_loss(config[2:] if self.inverse else config)
        self.w_min, self.w_max = w_min, w_max
        self.ds = DeepSupervisionLoss(self.base, scale_weights)
        self.reset_stats()

    def reset_stats(self):
        #: patches seen, patches whose weights were not all equal, largest weight
        self.patches, self.nonuniform, self.max_weight = 0, 0, 0.0

    def forward(self, output, target):
        outs = list(output) if isinstance(output, (list, tuple)) else [output]
        targets = list(target) if isinstance(target, (list, tuple)) else [target]
        logits = [foreground_logit(o) for o in outs]
        fg = [(t > 0).to(o.dtype) for t, o in zip(targets, logits)]
        weight = None
        if self.inverse:
            # Per patch, after augmentation, at full resolution; DeepSupervisionLoss resizes it.
            weight = batch_inverse_weights(fg[0] > 0.5, self.w_min, self.w_max, 26, labels=False)
            w = weight.reshape(weight.shape[0], -1)
            self.patches += w.shape[0]
            self.nonuniform += int((w.amax(1) > w.amin(1)).sum())
            self.max_weight = max(self.max_weight, float(w.max()))
        return self.ds(logits, fg if len(fg) > 1 else fg[0], weight)


class nnUNetTrainerIWBase(nnUNetTrainer):
    """nnUNetTrainer with ``IWnnUNetLoss(iw_config)``."""
    iw_config = "iwdl"

    def _build_loss(self):
        if self.label_manager.has_regions:
            raise RuntimeError(f"{type(self).__name__}: region-based training is not supported; "
                               "use plain labels (0 background, > 0 lesion)")
        if self.label_manager.ignore_label is not None:
            raise RuntimeError(f"{type(self).__name__}: an ignore label is not supported")
        weights = None
        if self.enable_deep_supervision:
            # nnU-Net's own scale weights: 1 / 2^i, the lowest resolution left out, sum 1.
            weights = np.array([1 / (2 ** i) for i in range(len(self._get_deep_supervision_scales()))])
            weights[-1] = 1e-6 if self.is_ddp else 0
            weights = (weights / weights.sum()).tolist()
        return IWnnUNetLoss(self.iw_config, weights)

    def on_train_epoch_end(self, train_outputs):
        super().on_train_epoch_end(train_outputs)
        loss = self.loss
        if isinstance(loss, IWnnUNetLoss) and loss.inverse:
            self.print_to_log_file(
                f"iw: {loss.nonuniform} of {loss.patches} patches with non-uniform inverse weights, "
                f"largest weight {loss.max_weight:.6g} ({self.iw_config})")
            loss.reset_stats()


class _ShortMixin:
    """5 epochs of 25 iterations."""
    epochs, iterations, val_iterations = 5, 25, 5

    # nnU-Net records its constructor's arguments by name: keep its exact signature.
    def __init__(self, plans: dict, configuration: str, fold: int, dataset_json: dict,
                 device: torch.device = torch.device("cuda")):
        super().__init__(plans, configuration, fold, dataset_json, device)
        self.num_epochs = self.epochs
        self.num_iterations_per_epoch = self.iterations
        self.num_val_iterations_per_epoch = self.val_iterations


class _SmokeMixin(_ShortMixin):
    """2 epochs of 2 iterations, no test-time mirroring, no final validation of every case: the
    plumbing, on a CPU, in a few minutes."""
    epochs, iterations, val_iterations = 2, 2, 1

    def perform_actual_validation(self, save_probabilities: bool = False):
        self.print_to_log_file("smoke trainer: the final validation is skipped")

    def configure_rotation_dummyDA_mirroring_and_inital_patch_size(self):
        out = super().configure_rotation_dummyDA_mirroring_and_inital_patch_size()
        self.inference_allowed_mirroring_axes = None
        return out


_CONFIGS = {"nnUNetTrainerIW": "iwdl", "nnUNetTrainerIWDL": "iwdl", "nnUNetTrainerIWBCE": "iwbce",
            "nnUNetTrainerIWWCE": "iwwce", "nnUNetTrainerIWGDL": "iwgdl", "nnUNetTrainerIWFL": "iwfl",
            "nnUNetTrainerIWASL": "iwasl", "nnUNetTrainerDL": "dl", "nnUNetTrainerBCE": "bce",
            "nnUNetTrainerWCE": "wce", "nnUNetTrainerGDL": "gdl", "nnUNetTrainerFL": "fl",
            "nnUNetTrainerASL": "asl"}

for _name, _config in _CONFIGS.items():
    _cls = type(_name, (nnUNetTrainerIWBase,), {"iw_config": _config, "__module__": __name__,
                                                  "__doc__": f"nnU-Net with the paper's {_config} loss."})
    globals()[_name] = _cls
    globals()[_name + "_5epochs"] = type(_name + "_5epochs", (_ShortMixin, _cls), {"__module__": __name__})
    globals()[_name + "_smoke"] = type(_name + "_smoke", (_SmokeMixin, _cls), {"__module__": __name__})
