"""Noise: independent random values per pixel and channel (colour noise on RGB images).

Parameters are CIFAR-10-C's, indexed by severity - 1; images are floats in [0, 1].
"""

import numpy as np

GAUSSIAN_NOISE_STD = (0.04, 0.06, 0.08, 0.09, 0.10)
# Photons per unit of intensity: fewer photons, relatively noisier counts.
SHOT_NOISE_PHOTONS = (500, 250, 100, 75, 50)
# Fraction of values replaced, half by 0 (pepper) and half by 1 (salt).
IMPULSE_NOISE_AMOUNT = (0.01, 0.02, 0.03, 0.05, 0.07)
SPECKLE_NOISE_STD = (0.06, 0.10, 0.12, 0.16, 0.20)


def gaussian_noise(x, severity, rng):
    """Adds zero-mean Gaussian noise."""
    return x + GAUSSIAN_NOISE_STD[severity - 1] * rng.standard_normal(x.shape, np.float32)


def shot_noise(x, severity, rng):
    """Replaces each value by a Poisson photon count of its mean, rescaled: noise grows with brightness."""
    photons = SHOT_NOISE_PHOTONS[severity - 1]
    return (rng.poisson(x * photons) / photons).astype(np.float32)


def impulse_noise(x, severity, rng):
    """Salt and pepper: a random fraction of values becomes 0 or 1."""
    amount = IMPULSE_NOISE_AMOUNT[severity - 1]
    # One uniform draw per value, compared with thresholds that widen with the severity, so a
    # higher severity keeps the impulses of the lower ones and adds more.
    draw = rng.random(x.shape, np.float32)
    return np.where(draw < amount / 2, 0, np.where(draw > 1 - amount / 2, 1, x)).astype(np.float32)


def speckle_noise(x, severity, rng):
    """Multiplicative Gaussian noise: x + x * N(0, std), so dark areas stay clean."""
    return x * (1 + SPECKLE_NOISE_STD[severity - 1] * rng.standard_normal(x.shape, np.float32))
