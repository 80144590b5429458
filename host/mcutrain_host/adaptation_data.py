"""The images an adaptation sees: a seeded draw from a dataset split, corrupted, optionally with
extra gaussian noise; `mcutrain train` and `mcutrain experiment` draw them the same way."""

import numpy as np

from mcutrain_host import corruptions, datasets
from mcutrain_host.quantize import quantize_images


def draw(dataset, data_dir, split, count, seed, corruption="none", severity=5, noise=0.0, within=slice(None),
         resize=None):
    """(uint8 images (n, h, w, c), labels): count images of the split (of its part `within`, a
    slice) chosen by seed, corrupted (corruption "none": as they are), then gaussian noise of std
    `noise` pixel levels added; resize: datasets.load's."""
    images, labels = datasets.load(dataset, split, data_dir, resize)
    images, labels = images[within], labels[within]
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(images), min(count, len(images)), replace=False)
    x = images[pick]
    if corruption != "none":
        x = corruptions.corrupt(x, corruption, severity, seed)
    if noise:
        x = np.clip(x + rng.normal(0, noise, x.shape), 0, 255).astype(np.uint8)
    return x, labels[pick]


class ShapeMismatch(ValueError):
    """The dataset's images are not the size the model takes (bad usage: exit code 2)."""


def check_shape(images, shape):
    """Before anything is streamed: a board given images of another size would wait for ever."""
    if tuple(images.shape[1:]) != tuple(shape):
        raise ShapeMismatch("the model takes %s images, the dataset's are %s: use a dataset of the model's size "
                            "(--resize HxW resizes images; it keeps their channels)"
                            % ("x".join(map(str, shape)), "x".join(map(str, images.shape[1:]))))


def model_inputs(images, description):
    """uint8 images as the int8 bytes a model takes, one bytes object per image."""
    check_shape(images, description.input_shape)
    q = quantize_images(images, description.input_scale, description.input_zero_point).reshape(len(images), -1)
    return [row.tobytes() for row in q]
