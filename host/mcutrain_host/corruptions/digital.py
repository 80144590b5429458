"""Digital: brightness, contrast, elastic warping, pixelation, JPEG and saturation.

Parameters are CIFAR-10-C's, indexed by severity - 1. The HSV operations (brightness, saturate)
are written as their effect on RGB, which needs no conversion: with hue and saturation fixed, each
channel is proportional to the value V = max(R, G, B); with hue and value fixed, each channel's
distance below V is proportional to the saturation S = (V - min) / V.

Saturate on grayscale images: a gray pixel has no saturation to scale, so the RGB rule would leave
a gray image unchanged (or tint it red at severities 4-5, as the reference does to gray pixels,
whose hue reads as 0). Instead the factor scales the image's contrast around its mean, the
closest gray analogue of scaling colourfulness around gray: severities 1-2 flatten the image,
3-5 harden it; the offset of severities 4-5, a tint, has no gray counterpart and is not applied.
"""

import io

import numpy as np
from PIL import Image

from mcutrain_host.corruptions.filters import gaussian_filter, resample, sample

BRIGHTNESS = (0.05, 0.1, 0.15, 0.2, 0.3)  # added to V
CONTRAST = (0.75, 0.5, 0.4, 0.3, 0.15)  # factor on the distance from the mean
# (displacement strength, displacement smoothness sigma, affine jitter), fractions of the image
# side: a random affine warp, then each pixel displaced by smoothed uniform noise.
ELASTIC = ((0.0, 0.0, 0.08), (0.05, 0.2, 0.07), (0.08, 0.06, 0.06), (0.1, 0.04, 0.05), (0.1, 0.03, 0.03))
PIXELATE = (0.95, 0.9, 0.85, 0.75, 0.65)  # side of the reduced image, relative
JPEG_QUALITY = (80, 65, 58, 50, 40)
SATURATE = ((0.3, 0.0), (0.1, 0.0), (1.5, 0.0), (2.0, 0.1), (2.5, 0.2))  # S * factor + offset


def brightness(x, severity, rng):
    """Adds to the HSV value: colours keep hue and saturation, black becomes gray."""
    value = x.max(axis=-1, keepdims=True)
    brighter = np.minimum(value + BRIGHTNESS[severity - 1], 1)
    # Every channel scales with V; black (V = 0) has saturation 0, so all channels become V.
    return np.where(value > 0, x * brighter / np.maximum(value, 1e-12), brighter)


def contrast(x, severity, rng):
    """Pulls every pixel towards its image's mean (per channel)."""
    mean = x.mean(axis=(1, 2), keepdims=True)
    return mean + (x - mean) * CONTRAST[severity - 1]


def elastic_transform(x, severity, rng):
    """Warps the image: a random affine map, then a smooth random displacement of every pixel,
    sampled once (bilinear) rather than twice as the reference does."""
    n, h, w, _ = x.shape
    side = min(h, w)
    strength, sigma, jitter = (side * value for value in ELASTIC[severity - 1])
    # The affine map moves three points around the centre by up to `jitter` pixels each; an output
    # pixel reads the input where the inverse map, moved points to original ones, takes it.
    centre = np.array([h // 2, w // 2], np.float64)
    anchors = centre + side // 3 * np.array([[1, 1], [1, -1], [-1, -1]])
    moved = anchors + rng.uniform(-jitter, jitter, (n, 3, 2))
    # inverse[:, k] holds the source (row, col) per output row (k = 0), per output col (1), and at 0, 0 (2).
    inverse = np.linalg.solve(np.concatenate([moved, np.ones((n, 3, 1))], axis=2),
                              np.broadcast_to(anchors, (n, 3, 2)))
    rows, cols = np.mgrid[0:h, 0:w].astype(np.float32)
    rows, cols = np.broadcast_to(rows, (n, h, w)), np.broadcast_to(cols, (n, h, w))
    if strength > 0:  # severity 1 is the affine map alone
        noise = rng.uniform(-1, 1, (n, h, w, 2)).astype(np.float32)
        displacement = strength * gaussian_filter(noise, sigma, truncate=3)
        rows, cols = rows + displacement[..., 0], cols + displacement[..., 1]
    source = (rows[..., None] * inverse[:, None, None, 0] + cols[..., None] * inverse[:, None, None, 1]
              + inverse[:, None, None, 2]).astype(np.float32)
    return sample(x, source[..., 0], source[..., 1])


def pixelate(x, severity, rng):
    """Shrinks the image by averaging boxes, then enlarges it back with square pixels, as Pillow's
    BOX filter does both ways."""
    h, w = x.shape[1:3]
    factor = PIXELATE[severity - 1]
    small_h, small_w = max(1, int(h * factor)), max(1, int(w * factor))
    rows = nearest_matrix(h, small_h) @ box_matrix(small_h, h)
    cols = nearest_matrix(w, small_w) @ box_matrix(small_w, w)
    return resample(x, rows, cols)


def box_matrix(size, source):
    """(size, source): each output sample averages the source pixels under its footprint,
    boundary pixels by the fraction they overlap."""
    edges = np.arange(size + 1) * source / size
    low, high = edges[:-1, None], edges[1:, None]
    pixels = np.arange(source)[None, :]
    overlap = np.clip(np.minimum(high, pixels + 1) - np.maximum(low, pixels), 0, None)
    return (overlap / overlap.sum(axis=1, keepdims=True)).astype(np.float32)


def nearest_matrix(size, source):
    """(size, source): each output pixel copies the source pixel under its centre."""
    matrix = np.zeros((size, source), np.float32)
    matrix[np.arange(size), ((np.arange(size) + 0.5) * source / size).astype(np.intp)] = 1
    return matrix


def jpeg_compression(x, severity, rng):
    """Encodes and decodes every image as a JPEG with Pillow. One call per image: JPEG works on
    8x8 blocks, and in a mosaic of 28x28 images blocks would straddle neighbouring images."""
    quality = JPEG_QUALITY[severity - 1]
    pixels = np.rint(x * 255).astype(np.uint8)
    out = np.empty_like(pixels)
    for i, image in enumerate(pixels):
        buffer = io.BytesIO()
        Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(buffer, "JPEG", quality=quality)
        out[i] = np.asarray(Image.open(buffer)).reshape(image.shape)
    return out.astype(np.float32) / 255


def saturate(x, severity, rng):
    """Scales the HSV saturation (RGB); scales the contrast on grayscale (see the module notes)."""
    factor, offset = SATURATE[severity - 1]
    if x.shape[-1] == 1:
        mean = x.mean(axis=(1, 2), keepdims=True)
        return mean + (x - mean) * factor
    value = x.max(axis=-1, keepdims=True)
    below = value - x
    spread = below.max(axis=-1, keepdims=True)  # V - min = S * V
    saturation = np.where(value > 0, spread / np.maximum(value, 1e-12), 0)
    new_saturation = np.clip(saturation * factor + offset, 0, 1)
    scaled = value - below * new_saturation / np.maximum(saturation, 1e-12)
    # A gray pixel has hue 0 (red) in HSV: the offset turns it red at V, the others at V * (1 - S').
    red = np.concatenate([value, np.repeat(value * (1 - new_saturation), 2, axis=-1)], axis=-1)
    return np.where(saturation > 0, scaled, red)
