"""Image corruptions of CIFAR-10-C and MNIST-C, in NumPy: `corrupt(images, name, severity, seed)`.

The 19 corruptions of Hendrycks & Dietterich ("Benchmarking Neural Network Robustness to Common
Corruptions and Perturbations", 2019) with the parameters of their CIFAR-10-C tables, the sizes
scaled from 32x32 to the images at hand (28x28 for Fashion-MNIST), as Mu & Gilmer's MNIST-C does
for its grayscale digits. One module per family: noise, blur, weather, digital; filters holds the
image operations they share. docs/corruptions.md describes each corruption.

Determinism: the random draws come from np.random.default_rng((seed, index of the name)), drawn
for the whole batch at once. The same images, name, severity and seed give the same bytes; the
five severities of one seed share their draws, so severity changes the strength of the same
noise, streaks or drops, not their pattern. An image's draws depend on the seed and on the batch
(its position and the batch size), not on the pixels of the other images.
"""

from typing import Callable, NamedTuple

import numpy as np

from mcutrain_host.corruptions import blur, digital, noise, weather

SEVERITIES = (1, 2, 3, 4, 5)
# Smaller images leave no room for the blur kernels and textures, sized for 32x32.
MIN_SIDE = 8


class Corruption(NamedTuple):
    apply: Callable  # (float32 images (n, h, w, c) in [0, 1], severity, rng) -> float images, clipped later
    summary: str  # one line for `mcutrain corrupt --list`
    random: bool  # whether the seed changes the result


CORRUPTIONS = {
    "gaussian_noise": Corruption(noise.gaussian_noise, "additive Gaussian noise, std 0.04 to 0.10", True),
    "shot_noise": Corruption(noise.shot_noise, "Poisson photon noise, 500 down to 50 photons per unit", True),
    "impulse_noise": Corruption(noise.impulse_noise, "salt and pepper on 1% to 7% of the values", True),
    "defocus_blur": Corruption(blur.defocus_blur, "convolution with a disk of radius 0.3 to 1.5 px", False),
    "glass_blur": Corruption(blur.glass_blur, "blur, swap neighbouring pixels (1 or 2 rounds), blur", True),
    "motion_blur": Corruption(blur.motion_blur, "one-sided smear within +-45 degrees, sigma 1 to 2.5 px", True),
    "zoom_blur": Corruption(blur.zoom_blur, "average of copies magnified up to 1.06 to 1.25 times", False),
    "snow": Corruption(weather.snow, "falling snow streaks over a whitened scene", True),
    "frost": Corruption(weather.frost, "procedural frost texture blended in, weight 0.2 to 0.45", True),
    "fog": Corruption(weather.fog, "plasma-fractal haze of strength 0.2 to 1.5", True),
    "brightness": Corruption(digital.brightness, "HSV value raised by 0.05 to 0.3", False),
    "contrast": Corruption(digital.contrast, "distance from the mean scaled by 0.75 down to 0.15", False),
    "elastic_transform": Corruption(digital.elastic_transform, "random affine warp and smooth local displacement",
                                    True),
    "pixelate": Corruption(digital.pixelate, "box-shrunk to 95% down to 65% of the side, enlarged back", False),
    "jpeg_compression": Corruption(digital.jpeg_compression, "JPEG at quality 80 down to 40", False),
    "speckle_noise": Corruption(noise.speckle_noise, "multiplicative Gaussian noise, std 0.06 to 0.20", True),
    "gaussian_blur": Corruption(blur.gaussian_blur, "Gaussian blur, sigma 0.4 to 1 px", False),
    "spatter": Corruption(weather.spatter, "water drops (severities 1-3) or mud (4-5) on the lens", True),
    "saturate": Corruption(digital.saturate, "HSV saturation x0.3, x0.1, x1.5, x2+0.1, x2.5+0.2 "
                                             "(contrast on grayscale)", False),
}
NAMES = tuple(CORRUPTIONS)


def corrupt(images, name, severity, seed=0):
    """Corrupted copies of uint8 images (n, h, w, c), c 1 (grayscale) or 3 (RGB), at severity 1..5.
    Returns uint8 of the same shape; raises ValueError on anything else."""
    check_images(images)
    if name not in CORRUPTIONS:
        raise ValueError(f"unknown corruption {name!r}; the corruptions are: {', '.join(NAMES)}")
    if not is_integer(severity) or severity not in SEVERITIES:
        raise ValueError(f"severity must be an integer from 1 to 5, not {severity!r}")
    if not is_integer(seed) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, not {seed!r}")
    if len(images) == 0:
        return images.copy()
    rng = np.random.default_rng((int(seed), NAMES.index(name)))
    out = CORRUPTIONS[name].apply(images.astype(np.float32) / 255, int(severity), rng)
    return np.rint(np.clip(out, 0, 1) * 255).astype(np.uint8)


def check_images(images):
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8:
        raise ValueError(f"images must be a uint8 NumPy array, not {type(images).__name__} of "
                         f"{getattr(images, 'dtype', 'no dtype')}")
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(f"images must be (n, height, width, channels) with 1 (grayscale) or 3 (RGB) "
                         f"channels, not shape {images.shape}")
    if min(images.shape[1:3]) < MIN_SIDE:
        raise ValueError(f"images must be at least {MIN_SIDE}x{MIN_SIDE} pixels, not "
                         f"{images.shape[1]}x{images.shape[2]}")


def is_integer(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)
