"""Image corruptions (mcutrain_host.corruptions) and `mcutrain corrupt`: shapes, determinism, the
ordering of severities, argument checks, and the command's list and preview grid."""

import argparse
import colorsys

import numpy as np
import pytest
from PIL import Image

from mcutrain_host import datasets, model_file
from mcutrain_host.commands import corrupt as command
from mcutrain_host.corruptions import CORRUPTIONS, NAMES, corrupt, filters
from mcutrain_host.quantize import quantize_images
from model_cases import MODELS

SEVERITIES = range(1, 6)


def colourful(gray):
    """RGB 32x32 test images from 28x28 grayscale ones: each object and background its own colour,
    the background shaded left to right."""
    rng = np.random.default_rng(0)
    shape = np.pad(gray[..., 0], ((0, 0), (2, 2), (2, 2))).astype(np.float32)[..., None] / 255
    ink = rng.uniform(0.2, 1, (len(gray), 1, 1, 3))
    paper = rng.uniform(0, 0.8, (len(gray), 1, 1, 3)) * np.linspace(0.6, 1, 32)[None, None, :, None]
    return np.rint(255 * (shape * ink + (1 - shape) * paper)).astype(np.uint8)


@pytest.fixture(scope="module")
def images():
    gray = datasets.load("fashion-mnist", "test")[0][:48]
    return {"gray": gray, "rgb": colourful(gray)}


def test_the_nineteen_names_in_order():
    assert NAMES == ("gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "glass_blur", "motion_blur",
                     "zoom_blur", "snow", "frost", "fog", "brightness", "contrast", "elastic_transform", "pixelate",
                     "jpeg_compression", "speckle_noise", "gaussian_blur", "spatter", "saturate")


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("kind", ["gray", "rgb"])
def test_every_severity_keeps_shape_and_changes_the_images(images, name, kind):
    clean = images[kind][:12]
    before = clean.copy()
    for severity in SEVERITIES:
        out = corrupt(clean, name, severity)
        assert out.dtype == np.uint8 and out.shape == clean.shape
        assert (out != clean).any(), f"{name} at severity {severity} left the images as they were"
    assert np.array_equal(clean, before), "the input was modified"


@pytest.mark.parametrize("name", NAMES)
def test_a_seed_gives_the_same_bytes_and_another_seed_other_bytes_if_random(images, name):
    for clean in images.values():
        clean = clean[:8]
        first = corrupt(clean, name, 3, seed=7)
        assert corrupt(clean, name, 3, seed=7).tobytes() == first.tobytes()
        differs = corrupt(clean, name, 3, seed=8).tobytes() != first.tobytes()
        assert differs == CORRUPTIONS[name].random


# Measures of each corruption's effect, which must grow with the severity.

def mean_abs_change(clean, out):
    return np.abs(out.astype(np.float64) - clean).mean()


def brightening(clean, out):
    return (out.astype(np.float64) - clean).mean()


def gradient_energy(images):
    images = images.astype(np.float64)
    return (np.diff(images, axis=1) ** 2).mean() + (np.diff(images, axis=2) ** 2).mean()


def detail_lost(clean, out):
    """Blur removes the fine detail: the share of the gradient energy gone."""
    return 1 - gradient_energy(out) / gradient_energy(clean)


def contrast_lost(clean, out):
    return 1 - out.std(axis=(1, 2)).mean() / clean.std(axis=(1, 2)).mean()


def displacement(clean, out):
    """Glass blur moves pixels, and blurs: compared after a blur that swamps its own, only the
    displaced content shows."""
    soften = lambda images: filters.gaussian_filter(images.astype(np.float32), 1.0)  # noqa: E731
    return np.abs(soften(out) - soften(clean)).mean()


def image_share_lost(clean, out):
    """Blends (frost, fog, drops) hide the image behind a layer: 1 - correlation with the clean one."""
    a = clean.reshape(len(clean), -1).astype(np.float64)
    b = out.reshape(len(out), -1).astype(np.float64)
    a -= a.mean(axis=1, keepdims=True)
    b -= b.mean(axis=1, keepdims=True)
    return 1 - np.mean((a * b).sum(1) / np.sqrt((a * a).sum(1) * (b * b).sum(1)))


def repeated_lines(clean, out):
    """Pixelation enlarges a smaller image, repeating rows and columns: the share of equal neighbours."""
    equal = lambda images: ((images[:, 1:] == images[:, :-1]).all(axis=(2, 3)).mean()  # noqa: E731
                            + (images[:, :, 1:] == images[:, :, :-1]).all(axis=(1, 3)).mean())
    return equal(out) - equal(clean)


EFFECTS = {
    "gaussian_noise": mean_abs_change, "shot_noise": mean_abs_change, "impulse_noise": mean_abs_change,
    "speckle_noise": mean_abs_change, "jpeg_compression": mean_abs_change, "snow": mean_abs_change,
    "defocus_blur": detail_lost, "motion_blur": detail_lost, "zoom_blur": detail_lost, "gaussian_blur": detail_lost,
    "glass_blur": displacement,
    "frost": image_share_lost, "fog": image_share_lost, "spatter": image_share_lost,
    "brightness": brightening, "contrast": contrast_lost, "pixelate": repeated_lines,
}


# Severities 2 and 3 of CIFAR-10-C's snow add about as much snow (3 in bigger, fewer flakes): with
# other seeds either may come out ahead by up to 1% of the rise.
SLACK = {"snow": 0.03}


def assert_grows(values, what, slack=0.01):
    """Never falls by more than `slack` of the whole rise (adjacent severities may tie: motion blur's
    3 and 4 are the same blur), and rises clearly from severity 1 to 5."""
    rise = values[-1] - values[0]
    assert rise > 0.05 * abs(values[-1]), f"{what}: no clear rise from severity 1 to 5: {values}"
    for low, high in zip(values, values[1:]):
        assert high >= low - slack * rise, f"{what}: falls between severities: {values}"


@pytest.mark.parametrize("name", sorted(EFFECTS))
def test_the_effect_grows_with_the_severity(images, name):
    assert set(EFFECTS) | {"elastic_transform", "saturate"} == set(NAMES)
    for kind, clean in images.items():
        values = [EFFECTS[name](clean, corrupt(clean, name, s)) for s in SEVERITIES]
        assert_grows(values, f"{name} on {kind}", SLACK.get(name, 0.01))


def test_the_elastic_part_of_the_warp_grows_with_the_severity():
    """CIFAR-10-C's table shrinks the affine jitter as the local displacement grows, so pixels move
    most at severity 1. What grows is the non-affine part: warp an image whose red and green
    channels are its row and column, read back where every pixel came from, and measure what an
    affine fit per image leaves unexplained."""
    h = w = 28
    rows, cols = np.mgrid[0:h, 0:w]
    probe = np.rint(np.stack([rows * 255 / (h - 1), cols * 255 / (w - 1), 0 * rows], axis=-1)).astype(np.uint8)
    probe = np.repeat(probe[None], 32, axis=0)

    def unexplained(out):
        source = out[..., :2].astype(np.float64) * (h - 1) / 255
        residuals = []
        for image in source:
            inside = ((image > 0.5) & (image < h - 1.5)).all(axis=-1)  # not clamped at the border
            design = np.stack([rows[inside], cols[inside], np.ones(inside.sum())], axis=1)
            fit = np.linalg.lstsq(design, image[inside], rcond=None)[0]
            residuals.append(np.sqrt(((design @ fit - image[inside]) ** 2).sum(-1).mean()))
        return np.mean(residuals)

    assert_grows([unexplained(corrupt(probe, "elastic_transform", s)) for s in SEVERITIES], "elastic_transform")


def test_saturate_orders_by_its_factor(images):
    """The table desaturates (x0.3, x0.1) then saturates (x1.5, x2 + 0.1, x2.5 + 0.2): colourfulness
    (V - min) on RGB, and contrast on grayscale, must follow the factors around the clean image."""
    rgb = images["rgb"].astype(np.float64)
    chroma = lambda x: (x.max(-1) - x.min(-1)).mean()  # noqa: E731
    rgb_levels = [chroma(corrupt(images["rgb"], "saturate", s)) for s in SEVERITIES]
    assert rgb_levels[1] < rgb_levels[0] < chroma(rgb) < rgb_levels[2] < rgb_levels[3] < rgb_levels[4]
    gray = images["gray"]
    contrast = lambda x: x.std(axis=(1, 2)).mean()  # noqa: E731
    gray_levels = [contrast(corrupt(gray, "saturate", s)) for s in SEVERITIES]
    assert gray_levels[1] < gray_levels[0] < contrast(gray) < gray_levels[2] < gray_levels[3] < gray_levels[4]


def test_brightness_and_saturate_are_the_hsv_operations():
    """The RGB formulas must match an HSV round trip through the standard library's colorsys,
    including black (brightness turns it gray) and gray pixels (saturate's offset reads hue 0: red)."""
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, (1, 16, 16, 3)).astype(np.uint8)
    pixels[0, 0, :4] = [[0, 0, 0], [128, 128, 128], [255, 255, 255], [10, 200, 30]]
    for name, change in (("brightness", lambda h, s, v: (h, s, min(v + 0.2, 1))),
                         ("saturate", lambda h, s, v: (h, min(s * 2 + 0.1, 1), v))):
        expected = np.array([colorsys.hsv_to_rgb(*change(*colorsys.rgb_to_hsv(*pixel / 255)))
                             for pixel in pixels.reshape(-1, 3)])
        out = corrupt(pixels, name, 4).reshape(-1, 3)
        assert np.abs(out.astype(int) - np.rint(expected * 255)).max() <= 1, name


@pytest.mark.parametrize("images, name, severity, seed, message", [
    (np.zeros((2, 28, 28, 1), np.float32), "fog", 1, 0, "uint8"),
    (np.zeros((28, 28, 1), np.uint8), "fog", 1, 0, "(n, height, width, channels)"),
    (np.zeros((2, 28, 28, 2), np.uint8), "fog", 1, 0, "1 (grayscale) or 3 (RGB)"),
    (np.zeros((2, 4, 4, 1), np.uint8), "fog", 1, 0, "at least 8x8"),
    (np.zeros((2, 28, 28, 1), np.uint8), "rain", 1, 0, "gaussian_noise, shot_noise"),
    (np.zeros((2, 28, 28, 1), np.uint8), "fog", 0, 0, "from 1 to 5"),
    (np.zeros((2, 28, 28, 1), np.uint8), "fog", 6, 0, "from 1 to 5"),
    (np.zeros((2, 28, 28, 1), np.uint8), "fog", 2.0, 0, "from 1 to 5"),
    (np.zeros((2, 28, 28, 1), np.uint8), "fog", True, 0, "from 1 to 5"),
    (np.zeros((2, 28, 28, 1), np.uint8), "fog", 1, -1, "non-negative integer"),
])
def test_bad_arguments_raise_value_error_saying_what_is_allowed(images, name, severity, seed, message):
    with pytest.raises(ValueError) as error:
        corrupt(images, name, severity, seed)
    assert message in str(error.value)


def test_an_empty_batch_comes_back_empty():
    assert corrupt(np.zeros((0, 28, 28, 3), np.uint8), "snow", 5).shape == (0, 28, 28, 3)


def run_command(argv):
    parser = argparse.ArgumentParser(prog="mcutrain")
    command.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.run(args)


def test_list_prints_the_nineteen_names_with_a_description(capsys):
    assert run_command(["corrupt", "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list(NAMES)
    assert all(len(line.split()) > 3 for line in lines)


def test_help_teaches_with_an_example(capsys):
    with pytest.raises(SystemExit):
        run_command(["corrupt", "--help"])
    text = capsys.readouterr().out
    assert "mcutrain corrupt --preview" in text and "severities 1 to 5" in text


def test_preview_writes_a_grid_of_every_corruption_and_severity(tmp_path, capsys):
    path = tmp_path / "grid.png"
    assert run_command(["corrupt", "--preview", str(path), "--count", "2", "--seed", "3"]) == 0
    assert str(path) in capsys.readouterr().out
    tile = 28 * command.TILE_SCALE
    group = 6 * tile + 5 * command.GAP
    with Image.open(path) as picture:
        assert picture.format == "PNG" and picture.mode == "L"
        assert picture.size == (command.LABEL_WIDTH + 2 * group + command.GROUP_GAP,
                                command.HEADER_HEIGHT + 19 * tile + 18 * command.GAP)
        grid = np.asarray(picture)
    # The first tile is the first image of the test split (the first of its class), enlarged.
    first = datasets.load("fashion-mnist", "test")[0][0, ..., 0]
    top, left = command.HEADER_HEIGHT, command.LABEL_WIDTH
    assert np.array_equal(grid[top:top + tile, left:left + tile],
                          first.repeat(command.TILE_SCALE, 0).repeat(command.TILE_SCALE, 1))


def test_export_writes_samples_a_trainer_takes(tmp_path, capsys):
    """Each sample: the model's int8 input of the corrupted image, then its label (the README's x0.bin)."""
    path = tmp_path / "x.bin"
    tiny = MODELS / "tiny.mcut"
    assert run_command(["corrupt", "--export", str(path), "--count", "3", "--model", str(tiny),
                        "--corruption", "fog", "--severity", "2"]) == 0
    assert "the first 3 fashion-mnist test images, fog severity 2" in capsys.readouterr().out
    images, labels = datasets.load("fashion-mnist", "test")
    description = model_file.read(tiny)
    expected = quantize_images(corrupt(images[:3], "fog", 2, 0), description.input_scale, description.input_zero_point)
    data = path.read_bytes()
    assert len(data) == 3 * 785
    for i in range(3):
        assert data[i * 785:i * 785 + 784] == expected[i].tobytes() and data[i * 785 + 784] == labels[i]
