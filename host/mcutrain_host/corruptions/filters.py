"""Image operations shared by the corruption families, in NumPy and vectorized over the batch.

Images are float32 arrays (n, h, w, c) with values in [0, 1]; random fields and masks use the same
layout with c == 1 so that they broadcast over the colour channels. Borders extend the edge pixels
(scikit-image's mode="nearest"), which neither darkens nor brightens the frame.
"""

import numpy as np

# CIFAR-10-C's parameters are lengths in pixels of 32x32 images; other sizes scale them.
REFERENCE_SIZE = 32
# ITU-R BT.601 weights, those of OpenCV's and Pillow's RGB to gray conversions.
LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def reference_scale(x):
    """Pixels of these images per pixel of a 32x32 CIFAR image: spatial parameters are multiplied by it."""
    return min(x.shape[1:3]) / REFERENCE_SIZE


def gray(x):
    """The luminance (n, h, w, 1) of RGB images; a grayscale image is its own."""
    return x if x.shape[-1] == 1 else x @ LUMA[:, None]


def colour(rgb, channels):
    """A 0..255 RGB colour as values for images of `channels` channels: on grayscale, its luminance."""
    value = np.asarray(rgb, np.float32) / 255
    return value if channels == 3 else value @ LUMA[:, None]


def gaussian_kernel(sigma, truncate=4.0):
    """Normalized 1-D Gaussian weights reaching `truncate` standard deviations, as scikit-image's."""
    radius = int(truncate * sigma + 0.5)
    taps = np.arange(-radius, radius + 1)
    weights = np.exp(-0.5 * (taps / sigma) ** 2)
    return (weights / weights.sum()).astype(np.float32)


def correlate_axis(x, weights, axis):
    """Slides an odd-length kernel along one axis (correlation: weights[0] looks at the lowest index)."""
    radius = len(weights) // 2
    padding = [(0, 0)] * x.ndim
    padding[axis] = (radius, radius)
    padded = np.pad(x, padding, mode="edge")
    window = [slice(None)] * x.ndim
    out = np.zeros_like(x)
    for start, weight in enumerate(weights):
        window[axis] = slice(start, start + x.shape[axis])
        out += weight * padded[tuple(window)]
    return out


def gaussian_filter(x, sigma, truncate=4.0):
    """Gaussian blur over rows and columns; separable, so two 1-D passes."""
    kernel = gaussian_kernel(sigma, truncate)
    return correlate_axis(correlate_axis(x, kernel, 1), kernel, 2)


def correlate2d(x, kernel):
    """Slides a 2-D kernel (odd sides) over rows and columns, as OpenCV's filter2D; zero taps are skipped."""
    kernel = np.asarray(kernel, np.float32)
    rows, cols = kernel.shape[0] // 2, kernel.shape[1] // 2
    padded = np.pad(x, ((0, 0), (rows, rows), (cols, cols), (0, 0)), mode="edge")
    h, w = x.shape[1:3]
    out = np.zeros_like(x)
    for (row, col), weight in np.ndenumerate(kernel):
        if weight != 0:
            out += weight * padded[:, row:row + h, col:col + w]
    return out


def sample(x, rows, cols):
    """Bilinear interpolation of each image at its own fractional positions: rows and cols broadcast
    to (n, h', w'); positions outside the image take the nearest edge value. Returns (n, h', w', c)."""
    n, h, w, c = x.shape
    rows = np.clip(rows, 0, h - 1)
    cols = np.clip(cols, 0, w - 1)
    # Top-left corner of the interpolation cell; at the last row or column the cell is the one before.
    top = np.minimum(rows.astype(np.intp), h - 2)
    left = np.minimum(cols.astype(np.intp), w - 2)
    down = (rows - top)[..., None]
    right = (cols - left)[..., None]
    # Gathering from the flattened batch with one index per position beats 3-D fancy indexing.
    flat = x.reshape(n * h * w, c)
    corner = np.arange(n).reshape(n, 1, 1) * (h * w) + top * w + left
    upper = flat[corner] * (1 - right) + flat[corner + 1] * right
    lower = flat[corner + w] * (1 - right) + flat[corner + w + 1] * right
    return upper * (1 - down) + lower * down


def interpolation_matrix(size, positions):
    """(len(positions), size): row i linearly interpolates a length-`size` signal at positions[i]
    (clamped to its ends). Resampling every image with the same positions is then a matrix product."""
    positions = np.clip(np.asarray(positions, np.float64), 0, size - 1)
    low = np.minimum(positions.astype(np.intp), size - 2)
    fraction = positions - low
    matrix = np.zeros((len(positions), size), np.float32)
    matrix[np.arange(len(positions)), low] = 1 - fraction
    matrix[np.arange(len(positions)), low + 1] += fraction
    return matrix


def resample(x, row_matrix, col_matrix):
    """Applies separable linear maps to every image: row_matrix @ image @ col_matrix.T per channel."""
    return np.einsum("ij,njkc,lk->nilc", row_matrix, x, col_matrix, optimize=True).astype(np.float32)


def zoom(x, factor):
    """Magnifies the centre of every image by `factor` >= 1, cropped back to the same size
    (the reference's clipped_zoom)."""
    h, w = x.shape[1:3]
    rows = (h - 1) / 2 + (np.arange(h) - (h - 1) / 2) / factor
    cols = (w - 1) / 2 + (np.arange(w) - (w - 1) / 2) / factor
    return resample(x, interpolation_matrix(h, rows), interpolation_matrix(w, cols))


def streak(x, angles, offsets, weights):
    """Sum of weights[i] * x shifted offsets[i] pixels along each image's direction, angles (n,) in
    radians with 0 pointing right and pi/2 down. A one-sided Gaussian of offsets 0, 1, 2, ... is
    ImageMagick's motion blur. Sub-pixel shifts interpolate (bilinear) rather than round: each
    image gets a kernel holding its taps, spread over their four nearest pixels."""
    n = len(x)
    reach = int(np.ceil(np.max(np.abs(offsets)))) + 1
    kernels = np.zeros((n, 2 * reach + 1, 2 * reach + 1))
    images = np.arange(n)
    for offset, weight in zip(offsets, weights):
        rows = reach + offset * np.sin(angles)
        cols = reach + offset * np.cos(angles)
        top, left = np.floor(rows).astype(np.intp), np.floor(cols).astype(np.intp)
        down, right = rows - top, cols - left
        kernels[images, top, left] += weight * (1 - down) * (1 - right)
        kernels[images, top, left + 1] += weight * (1 - down) * right
        kernels[images, top + 1, left] += weight * down * (1 - right)
        kernels[images, top + 1, left + 1] += weight * down * right
    return correlate_each(x, kernels)


def correlate_each(x, kernels):
    """Correlates every image with its own kernel, kernels (n, k, k) with k odd, edges extended. By
    FFT, whose cost does not grow with the kernel: the image is padded by at least the kernel's
    reach on every side, so the circular convolution never wraps into the pixels kept."""
    n, h, w, _ = x.shape
    reach = kernels.shape[1] // 2
    size = fft_length(h + 2 * reach), fft_length(w + 2 * reach)
    padded = np.pad(x, ((0, 0), (reach, size[0] - h - reach), (reach, size[1] - w - reach), (0, 0)), mode="edge")
    # Correlating with a kernel is convolving with it flipped; its centre moves to index (0, 0).
    flipped = np.zeros((n, *size))
    flipped[:, :kernels.shape[1], :kernels.shape[2]] = kernels[:, ::-1, ::-1]
    flipped = np.roll(flipped, (-reach, -reach), axis=(1, 2))
    spectrum = np.fft.rfft2(padded, axes=(1, 2)) * np.fft.rfft2(flipped, axes=(1, 2))[..., None]
    out = np.fft.irfft2(spectrum, s=size, axes=(1, 2))
    return out[:, reach:reach + h, reach:reach + w].astype(np.float32)


def motion_blur(x, radius, sigma, angles):
    """ImageMagick's motion blur: a one-sided Gaussian (sigma) of 2 * ceil(radius) + 1 taps along
    each image's angle. Taps below 1/1000 of the first carry nothing visible and are left out."""
    offsets = np.arange(2 * int(np.ceil(radius)) + 1)
    weights = np.exp(-0.5 * (offsets / sigma) ** 2)
    kept = weights >= 1e-3
    return streak(x, angles, offsets[kept], weights[kept] / weights[kept].sum())


def fft_length(size):
    """The smallest length >= size with no prime factor above 5: FFTs of such lengths are fast
    (82, a padded 28x28 image, is 2 x 41 and takes twice as long as 90)."""
    while True:
        rest = size
        for prime in (2, 3, 5):
            while rest % prime == 0:
                rest //= prime
        if rest == 1:
            return size
        size += 1


def plasma_fractal(rng, n, size, decay):
    """n fractal height maps (n, size, size, 1) in [0, 1] by the diamond-square algorithm, wrapping
    around the edges; size is a power of two. Each finer level adds uniform noise 1 / decay**2 as
    strong as the level before: the reference draws wibble * U(-wibble, wibble) and divides wibble
    by decay per level, and the final normalization makes the starting strength irrelevant."""
    heights = np.zeros((n, size, size))
    step, strength = size, 1.0
    while step >= 2:
        half = step // 2
        # Square step: each square's centre is the mean of its four corners, plus noise.
        corners = heights[:, ::step, ::step]
        square = corners + np.roll(corners, -1, axis=1)
        square = square + np.roll(square, -1, axis=2)
        heights[:, half::step, half::step] = square / 4 + rng.uniform(-strength, strength, square.shape)
        # Diamond step: each edge midpoint is the mean of its two corners and two square centres.
        centres = heights[:, half::step, half::step]
        across = corners + np.roll(corners, -1, axis=2) + centres + np.roll(centres, 1, axis=1)
        heights[:, ::step, half::step] = across / 4 + rng.uniform(-strength, strength, across.shape)
        down = corners + np.roll(corners, -1, axis=1) + centres + np.roll(centres, 1, axis=2)
        heights[:, half::step, ::step] = down / 4 + rng.uniform(-strength, strength, down.shape)
        step = half
        strength /= decay ** 2
    heights -= heights.min(axis=(1, 2), keepdims=True)
    heights /= heights.max(axis=(1, 2), keepdims=True)
    return heights[..., None].astype(np.float32)


def power_of_two_above(x):
    """The side of the smallest square plasma map that covers these images."""
    return 1 << (max(x.shape[1:3]) - 1).bit_length()
