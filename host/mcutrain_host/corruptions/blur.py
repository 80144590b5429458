"""Blur: defocus, frosted glass, camera motion, zoom and plain Gaussian.

Parameters are CIFAR-10-C's, indexed by severity - 1; lengths are in pixels of a 32x32 image and
scaled to the images at hand (x 28/32 for Fashion-MNIST).
"""

import numpy as np

from mcutrain_host.corruptions import filters

# (disk radius, sigma of the 3x3 Gaussian that anti-aliases the disk)
DEFOCUS_BLUR = ((0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (1.0, 0.2), (1.5, 0.1))
# (sigma of the Gaussian blur applied before and after shuffling, shuffling iterations); the
# reference's third column, how far a pixel may jump per swap, is 1 at every severity.
GLASS_BLUR = ((0.05, 1), (0.25, 1), (0.4, 1), (0.25, 2), (0.4, 2))
# (radius, sigma) of ImageMagick's motion blur; the direction is uniform in [-45, 45] degrees.
MOTION_BLUR = ((6, 1.0), (6, 1.5), (6, 2.0), (8, 2.0), (9, 2.5))
MOTION_BLUR_ANGLE = 45
# Largest magnification averaged, in steps of 0.01 from 1. These are the last values of the
# reference's np.arange(1, 1.06, 0.01) ... np.arange(1, 1.26, 0.01): rounding includes 1.06 and 1.11.
ZOOM_BLUR_MAX = (1.06, 1.11, 1.15, 1.20, 1.25)
GAUSSIAN_BLUR_SIGMA = (0.4, 0.6, 0.7, 0.8, 1.0)

# Glass blur swaps neighbours along these four orientations (right, down-left, down, down-right).
NEIGHBOURS = ((0, 1), (1, -1), (1, 0), (1, 1))
# The reference walks the image and swaps each pixel with a random neighbour of three, or with
# itself: a pixel starts a swap with chance 3/4 and is the partner of another's with 3/4.
SWAPS_PER_PIXEL = 1.5


def disk_kernel(radius, alias_sigma):
    """The defocus kernel: a disk of `radius` pixels, softened by a 3x3 Gaussian. Each tap holds the
    fraction of its pixel inside the disk (8x8 sub-samples), where the reference keeps pixels whose
    centre is inside: the kernel then grows smoothly with the radius, which matters once the radii
    are scaled between the integers (at 28x28, 1.5 becomes 1.31)."""
    reach = int(np.ceil(radius))
    size = 2 * reach + 1
    points = (np.arange(-reach, reach + 1)[:, None] + (np.arange(8) + 0.5) / 8 - 0.5).ravel()
    inside = points[:, None] ** 2 + points[None, :] ** 2 <= radius ** 2
    disk = inside.reshape(size, 8, size, 8).mean(axis=(1, 3))
    disk /= disk.sum()
    alias = np.exp(-0.5 * (np.arange(-1, 2) / alias_sigma) ** 2)
    alias /= alias.sum()
    kernel = np.zeros((size + 2, size + 2))
    for (row, col), weight in np.ndenumerate(np.outer(alias, alias)):
        kernel[row:row + size, col:col + size] += weight * disk
    return kernel


def defocus_blur(x, severity, rng):
    """Convolves with a disk, the blur of an out-of-focus lens."""
    radius, alias_sigma = DEFOCUS_BLUR[severity - 1]
    # Both are lengths: scaling the radius alone would leave severity 4's disk (radius 0.875 at
    # 28x28) blurring less than severity 3's anti-aliasing Gaussian.
    scale = filters.reference_scale(x)
    return filters.correlate2d(x, disk_kernel(radius * scale, alias_sigma * scale))


def glass_blur(x, severity, rng):
    """Frosted glass: blur, shuffle pixels locally, blur again."""
    sigma, iterations = GLASS_BLUR[severity - 1]
    sigma *= filters.reference_scale(x)
    x = filters.gaussian_filter(x, sigma)
    return filters.gaussian_filter(shuffle_locally(x, iterations, rng), sigma)


def shuffle_locally(x, iterations, rng):
    """Swaps random neighbouring pixels. The reference swaps one pixel at a time, which Python
    cannot afford for thousands of images; here each pass pairs every pixel with its neighbour in
    one orientation, in pairs that never share a pixel, and swaps a random part of the pairs at
    once. `where` records which original pixel now sits at each position."""
    n, h, w, c = x.shape
    where = np.arange(n * h * w).reshape(n, h, w)
    rows, cols = np.mgrid[0:h, 0:w]
    chance = SWAPS_PER_PIXEL / len(NEIGHBOURS)
    for _ in range(iterations):
        for down, right in NEIGHBOURS:
            # Pixels of one parity (along an axis the offset moves) start pairs; their partners
            # have the other parity, so no pixel is in two pairs.
            parity = (rows if down else cols) % 2 == rng.integers(2)
            inside = (rows + down < h) & (cols + right >= 0) & (cols + right < w)
            starts = (parity & inside)[None] & (rng.random((n, h, w)) < chance)
            image, row, col = np.nonzero(starts)
            first = where[image, row, col]
            where[image, row, col] = where[image, row + down, col + right]
            where[image, row + down, col + right] = first
    return x.reshape(n * h * w, c)[where]


def motion_blur(x, severity, rng):
    """Smears each image along its own random direction, as a camera moving during the exposure."""
    radius, sigma = MOTION_BLUR[severity - 1]
    scale = filters.reference_scale(x)
    angles = np.radians(rng.uniform(-MOTION_BLUR_ANGLE, MOTION_BLUR_ANGLE, len(x)))
    return filters.motion_blur(x, radius * scale, sigma * scale, angles)


def zoom_blur(x, severity, rng):
    """Averages the image with magnified copies of itself, as zooming during the exposure. Factor 1
    is among the copies, as in the reference, so the sharp image weighs double."""
    steps = round((ZOOM_BLUR_MAX[severity - 1] - 1) / 0.01)
    total = x.copy()
    for factor in 1 + 0.01 * np.arange(steps + 1):
        total += filters.zoom(x, factor)
    return total / (steps + 2)


def gaussian_blur(x, severity, rng):
    """Gaussian blur."""
    return filters.gaussian_filter(x, GAUSSIAN_BLUR_SIGMA[severity - 1] * filters.reference_scale(x))
