"""Weather: snow, frost, fog and spatter, all drawn procedurally (no image files).

Parameters are CIFAR-10-C's, indexed by severity - 1; lengths are in pixels of a 32x32 image and
scaled to the images at hand. Colours (the white cast of snow, the blue of frost, water and mud)
become their luminance on grayscale images, so a gray image gets what a gray camera would see.
"""

import numpy as np

from mcutrain_host.corruptions.filters import (
    colour, correlate2d, gaussian_filter, gray, motion_blur, plasma_fractal, power_of_two_above,
    reference_scale, streak, zoom)

# (flake mean, flake std, magnification, threshold, streak radius, streak sigma, image weight):
# Gaussian noise is magnified into flakes, kept above the threshold, smeared into streaks by a
# motion blur falling at -135..-45 degrees, and added with a copy turned upside down.
SNOW = ((0.10, 0.2, 1.00, 0.60, 8, 3, 0.95),
        (0.10, 0.2, 1.00, 0.50, 10, 4, 0.90),
        (0.15, 0.3, 1.75, 0.55, 10, 4, 0.90),
        (0.25, 0.3, 2.25, 0.60, 12, 6, 0.85),
        (0.30, 0.3, 1.25, 0.65, 14, 12, 0.80))
SNOW_ANGLES = (-135, -45)

# (image weight, frost weight): image * a + frost * b.
FROST = ((1.0, 0.2), (1.0, 0.3), (0.9, 0.4), (0.85, 0.4), (0.75, 0.45))
# The reference crops photographs of frost on glass, a pale blue-white.
FROST_TINT = (205, 225, 255)
# Procedural frost: a patchy haze of fine ice grain, with ice needles grown from sparse seeds.
FROST_HAZE_DECAY = 1.5
NEEDLE_SEEDS = 0.05  # fraction of pixels that seed a needle
NEEDLE_DIRECTIONS = 8  # seeds are split into groups, each group's needles sharing a random direction
NEEDLE_LENGTH = 4  # half-length of a needle, in pixels of a 32x32 image

# (fog strength, roughness decay of the plasma fractal): smaller decay, finer-grained fog.
FOG = ((0.2, 3.0), (0.5, 3.0), (0.75, 2.5), (1.0, 2.0), (1.5, 1.75))

# (liquid mean, liquid std, liquid blur sigma, threshold, then water intensity or mud blur sigma, kind):
# blurred Gaussian noise above the threshold forms the drops. Water (pale turquoise, lit from one
# side) brightens what it covers; mud (brown) hides it.
SPATTER = ((0.62, 0.1, 0.7, 0.70, 0.5, "water"),
           (0.65, 0.1, 0.8, 0.70, 0.5, "water"),
           (0.65, 0.3, 1.0, 0.69, 0.5, "water"),
           (0.65, 0.1, 0.7, 0.69, 0.6, "mud"),
           (0.65, 0.1, 0.5, 0.68, 0.6, "mud"))
WATER = (175, 238, 238)
MUD = (63, 42, 20)
# The reference's emboss kernel: its weights sum to 1, so flat areas keep their value while slopes
# facing down-right brighten and those facing up-left darken.
EMBOSS = ((-2, -1, 0), (-1, 1, 1), (0, 1, 2))
# Mud covers only where its blurred mask is this solid.
MUD_SOLID = 0.8


def snow(x, severity, rng):
    """Falling snow: bright streaks over a scene whitened as by snow light."""
    mean, std, magnify, threshold, radius, sigma, keep = SNOW[severity - 1]
    n, h, w, _ = x.shape
    flakes = zoom(rng.normal(mean, std, (n, h, w, 1)).astype(np.float32), magnify)
    flakes = np.where(flakes < threshold, 0, np.minimum(flakes, 1))
    scale = reference_scale(x)
    angles = np.radians(rng.uniform(*SNOW_ANGLES, n))
    flakes = motion_blur(flakes, radius * scale, sigma * scale, angles)
    whitened = keep * x + (1 - keep) * np.maximum(x, 1.5 * gray(x) + 0.5)
    return whitened + flakes + np.rot90(flakes, 2, axes=(1, 2))


def frost(x, severity, rng):
    """Frost on the lens: the image dimmed and a frost texture added."""
    keep, amount = FROST[severity - 1]
    texture = frost_texture(rng, x)
    return keep * x + amount * texture * colour(FROST_TINT, x.shape[-1])


def frost_texture(rng, x):
    """A frost layer (n, h, w, 1) in [0, 1] for these images: a patchy haze from a plasma fractal,
    roughened by fine grain, with ice needles (short bright strokes through random seeds, fading
    towards their tips) that grow brighter where the haze is thick, as crystals do where the frost
    is deep. Needle directions are drawn per image and per group of seeds, because every image's
    strokes are one kernel per direction (see filters.streak)."""
    n, h, w, _ = x.shape
    haze = plasma_fractal(rng, n, power_of_two_above(x), FROST_HAZE_DECAY)[:, :h, :w]
    grain = gaussian_filter(rng.random((n, h, w, 1), np.float32), 0.5)
    seeds = ((rng.random((n, h, w, 1)) < NEEDLE_SEEDS) * rng.uniform(0.5, 1, (n, h, w, 1))).astype(np.float32)
    group = rng.integers(NEEDLE_DIRECTIONS, size=(n, h, w, 1))
    reach = max(1, round(NEEDLE_LENGTH * reference_scale(x)))
    offsets = np.arange(-reach, reach + 1)
    taper = 1 - np.abs(offsets) / (reach + 1)
    needles = np.zeros_like(haze)
    for direction in range(NEEDLE_DIRECTIONS):
        strokes = streak(np.where(group == direction, seeds, 0), rng.uniform(0, np.pi, n), offsets, taper)
        needles = np.maximum(needles, strokes)
    return np.clip(0.1 + 0.35 * haze + 0.15 * grain + needles * (0.3 + 0.7 * haze), 0, 1)


def fog(x, severity, rng):
    """Fog: a fractal haze added, then everything scaled by peak / (peak + strength) so that nothing
    outshines the image's brightest point: the darks lift and the contrast flattens."""
    strength, decay = FOG[severity - 1]
    n, h, w, _ = x.shape
    haze = plasma_fractal(rng, n, power_of_two_above(x), decay)[:, :h, :w]
    peak = x.max(axis=(1, 2, 3), keepdims=True)
    return (x + strength * haze) * peak / (peak + strength)


def spatter(x, severity, rng):
    """Drops on the lens: translucent water at severities 1-3, opaque mud at 4-5."""
    mean, std, sigma, threshold, strength, kind = SPATTER[severity - 1]
    n, h, w, channels = x.shape
    scale = reference_scale(x)
    liquid = gaussian_filter(rng.normal(mean, std, (n, h, w, 1)).astype(np.float32), sigma * scale)
    drops = liquid >= threshold
    if kind == "water":
        return x + strength * water_shading(liquid, drops, threshold) * colour(WATER, channels)
    cover = gaussian_filter(drops.astype(np.float32), strength * scale)
    cover = np.where(cover >= MUD_SOLID, cover, 0)
    return x * (1 - cover) + cover * colour(MUD, channels)


def water_shading(liquid, drops, threshold):
    """How much light each water drop adds, in [0, 1]. The reference embosses the distance to the
    drops' edges (found with Canny); the depth of the liquid above the threshold, which also grows
    from a drop's edge to its middle, stands in for that distance."""
    depth = np.where(drops, liquid - threshold, 0)
    depth /= np.maximum(depth.max(axis=(1, 2, 3), keepdims=True), 1e-6)
    shading = np.where(drops, liquid * np.clip(correlate2d(depth, EMBOSS), 0, None), 0)
    return shading / np.maximum(shading.max(axis=(1, 2, 3), keepdims=True), 1e-6)
