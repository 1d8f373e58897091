"""The authors' sliding-window predictor, ported from deep_pipe for the grid test (issue 12).

inverse_weighting's config/assets/model/unet.config predicts with

    @add_extract_dims()
    @patches_grid(patch_size, patch_stride)            # padding_values=0, ratio=0.5, Average
    @divisible_shape(divisor=[8] * 3, padding_values=np.min)
    def predict(x): return inference_step(x, architecture=architecture, activation=torch.sigmoid)

and the same without the activation for the logits. The functions below are deep_pipe's
(dpipe/predict/shape.py, dpipe/im/grid.py, dpipe/im/shape_ops.py), reduced to the last three
axes and numpy, line for line where it matters: the padded shape, the centred padding and crop,
the box grid and the averaging combiner. The "network" is a small fixed two-layer convolution.

Usage: python grid_reference.py OUT.safetensors
"""
import sys

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file


# ---- dpipe.im.shape_ops ------------------------------------------------------------------
def pad(x, padding, padding_values):
    if callable(padding_values):
        padding_values = padding_values(x)
    full = np.zeros((x.ndim, 2), int)
    full[-3:] = padding
    return np.pad(x, full, mode="constant", constant_values=padding_values)


def pad_to_shape(x, shape, padding_values=0, ratio=0.5):
    old_shape = np.array(x.shape)[-3:]
    delta = np.array(shape) - old_shape
    start = (delta * ratio).astype(int)
    padding = np.array((start, delta - start)).T.astype(int)
    return pad(x, padding, padding_values)


def crop_to_shape(x, shape, ratio=0.5):
    old_shape = np.array(x.shape)[-3:]
    start = ((old_shape - np.array(shape)) * ratio).astype(int)
    stop = start + np.array(shape)
    return x[(...,) + tuple(slice(a, b) for a, b in zip(start, stop))]


def pad_to_divisible(x, divisor, padding_values, ratio=0.5):
    shape = np.array(x.shape)[-3:]
    return pad_to_shape(x, shape + (divisor - shape % divisor) % divisor, padding_values, ratio)


# ---- dpipe.im.grid -----------------------------------------------------------------------
def get_boxes(shape, box_size, stride):
    final_shape = np.ceil((np.array(shape) - box_size) / stride).astype(int) + 1  # valid=False
    for start in np.ndindex(*final_shape):
        start = np.asarray(start) * stride
        yield start, np.minimum(start + box_size, shape)


def divide(x, patch_size, stride):
    for start, stop in get_boxes(x.shape[-3:], patch_size, stride):
        yield x[(...,) + tuple(slice(a, b) for a, b in zip(start, stop))]


def combine(patches, output_shape, stride):
    patches = list(patches)
    full = patches[0].shape[:-3] + tuple(output_shape)
    result = np.zeros(full, patches[0].dtype)
    counts = np.zeros(full, int)
    for (start, stop), patch in zip(get_boxes(output_shape, np.array(patches[0].shape[-3:]), stride), patches):
        slc = (...,) + tuple(slice(a, b) for a, b in zip(start, stop))
        result[slc] += patch
        counts[slc] += 1
    return result / np.maximum(1, counts)


# ---- dpipe.predict.shape -----------------------------------------------------------------
def patches_grid(patch_size, stride, padding_values=0, ratio=0.5):
    def decorator(predict):
        def wrapper(x):
            shape = np.array(x.shape)[-3:]
            padded_shape = np.maximum(shape, patch_size)
            new_shape = padded_shape + (stride - padded_shape + patch_size) % stride
            x = pad_to_shape(x, new_shape, padding_values, ratio)
            patches = map(predict, divide(x, patch_size, stride))
            prediction = combine(patches, np.array(x.shape)[-3:], stride)
            return crop_to_shape(prediction, shape, ratio)
        return wrapper
    return decorator


def divisible_shape(divisor, padding_values=0, ratio=0.5):
    def decorator(predict):
        def wrapper(x):
            shape = np.array(x.shape)[-3:]
            x = pad_to_divisible(x, divisor, padding_values, ratio)
            return crop_to_shape(predict(x), shape, ratio)
        return wrapper
    return decorator


def add_extract_dims(predict):
    return lambda x: predict(x[None])[0]


def main():
    g = torch.Generator().manual_seed(12)
    w1 = torch.randn(2, 2, 3, 3, 3, generator=g) * 0.3
    b1 = torch.randn(2, generator=g) * 0.1
    w2 = torch.randn(1, 2, 3, 3, 3, generator=g) * 0.3
    b2 = torch.randn(1, generator=g) * 0.1

    def net(x):
        x = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        with torch.no_grad():
            y = F.conv3d(torch.relu(F.conv3d(x, w1, b1, padding=1)), w2, b2, padding=1)
        return y.numpy()

    out = {"w1": w1, "b1": b1, "w2": w2, "b2": b2}
    cases = [((37, 45, 29), (16, 16, 16), (12, 10, 14)), ((10, 33, 21), (12, 16, 20), (8, 12, 10))]
    for i, (shape, patch, stride) in enumerate(cases):
        patch, stride = np.array(patch), np.array(stride)
        x = (torch.rand((2,) + shape, generator=g) * 2 + 0.5).numpy()  # 2 channels, minimum > 0

        @add_extract_dims
        @patches_grid(patch, stride)
        @divisible_shape(8, padding_values=np.min)
        def predict_logit(t):
            return net(t)

        @add_extract_dims
        @patches_grid(patch, stride)
        @divisible_shape(8, padding_values=np.min)
        def predict(t):
            return 1 / (1 + np.exp(-net(t)))

        out[f"{i}/x"] = torch.from_numpy(x)
        out[f"{i}/patch"] = torch.tensor(patch)
        out[f"{i}/stride"] = torch.tensor(stride)
        out[f"{i}/logits"] = torch.from_numpy(predict_logit(x)[0].astype(np.float64))
        out[f"{i}/probs"] = torch.from_numpy(predict(x)[0].astype(np.float64))
    save_file({k: v.contiguous() for k, v in out.items()}, sys.argv[1])


if __name__ == "__main__":
    main()
