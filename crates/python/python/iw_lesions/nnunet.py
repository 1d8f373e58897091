"""nnU-Net v2 with inverse weighting.

The trainers live in a plain folder that nnU-Net searches through its ``nnUNet_extTrainer``
variable (``TRAINER_DIR``; ``python -m iw_lesions.nnunet`` prints it)::

    export nnUNet_extTrainer=$(python -m iw_lesions.nnunet)
    nnUNetv2_train DATASET 3d_fullres 0 -tr nnUNetTrainerIW

* ``nnUNetTrainerIW``: iwDL, the paper's best average recall; ``nnUNetTrainerIWBCE``,
  ``nnUNetTrainerIWFL``, ``nnUNetTrainerIWASL``, ``nnUNetTrainerIWWCE``, ``nnUNetTrainerIWGDL``:
  the other bases with inverse weights; ``nnUNetTrainerDL``, ``nnUNetTrainerBCE``, ... the bases
  without them (same plumbing, for a fair comparison).
* ``<any of them>_5epochs``: 5 epochs of 25 iterations; ``<any of them>_smoke``: 2 epochs of 2
  iterations, no final validation (the plumbing on a CPU).

The loss sees each training patch after nnU-Net's augmentation: the foreground (every label
> 0) is labelled with 26-connectivity in the full-resolution target, its inverse weights are
computed there and carried to every deep-supervision scale with the nearest-exact rule nnU-Net
downsamples its targets with. nnU-Net's softmax outputs become one foreground logit,
``logsumexp(x[1:]) - x[0]`` (for two classes ``x1 - x0``, whose sigmoid is the softmax
foreground probability), so argmax inference is unchanged.
"""
import os

TRAINER_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "nnunet_trainers")

__all__ = ["TRAINER_DIR"]

if __name__ == "__main__":
    print(TRAINER_DIR)
