"""The FQT trainer (mcutrain.fqt): the same bytes on the board (natmod) and on CPython (NumPy
reference), no allocation per step on the board, and it learns."""

import math

import numpy as np
import pytest

from mcutrain import fqt
from mcutrain import model as model_module
from mcutrain.trainer import Trainer
from mcutrain_host import datasets
from mcutrain_host.quantize import quantize_images
from test_trainer import SMALL, TINY, assert_allocates_nothing, assert_trains_alike

SETTINGS = {
    "full": "method=fqt,layers=4/6,lr=0.003",
    "partial": "method=fqt,layers=4/6,lr=0.003,lmin=0.1,lmax=0.1",
    "partial-dynamic-cosine": "method=fqt,layers=6,lr=0.01,lmin=0.1,lmax=0.5,schedule_name=cosine,total_steps=50",
}


# small.mcut's last layers: depthwise 11, conv2d 12, global_avg_pool 13, fully_connected 14.
SETTINGS["small-depthwise-global-pool"] = "method=fqt,layers=11/14,lr=0.003,lmin=0.25,lmax=0.75"
# Its residual blocks: depthwise 3, conv2d 4, add 5 (skip: layer 3's input), and 8, 9, add 10.
SETTINGS["small-through-residual-adds"] = "method=fqt,layers=2/8/14,lr=0.003,lmin=0.5,lmax=0.5"


@pytest.mark.parametrize("name", SETTINGS)
def test_board_and_host_train_to_the_same_bytes(board, tmp_path, name):
    # Back-propagation through small's blocks keeps nearly every activation of a batch of 4.
    heap = "1M" if "residual" in name else "512K"
    assert_trains_alike(board, tmp_path, SMALL if name.startswith("small") else TINY, SETTINGS[name], heap=heap)


@pytest.mark.parametrize("model,fraction,layers", [("tiny", "1.0", "4/6"), ("tiny", "0.1", "4/6"),
                                                   ("tiny", "0.5", "2/6"), ("small", "0.5", "11/14"),
                                                   ("small", "0.5", "2/8/14")])
def test_a_step_allocates_nothing_on_the_board(board, tmp_path, model, fraction, layers):
    settings = f"method=fqt,lmin={fraction},lmax={fraction},layers={layers}"
    assert_allocates_nothing(board, tmp_path, SMALL if model == "small" else TINY, settings)


def noisy_split(count, std=100, seed=0, model_path=TINY):
    """2 * count Fashion-MNIST test images with gaussian noise, int8 for the model: (train, test) pairs."""
    description = model_module.load(str(model_path)).description
    images, labels = datasets.load("fashion-mnist", "test")
    rng = np.random.default_rng(seed)
    picked = rng.choice(len(images), 2 * count, replace=False)
    noisy = np.clip(images[picked] + rng.normal(0, std, images[picked].shape), 0, 255).astype(np.uint8)
    x = quantize_images(noisy, description.input_scale, description.input_zero_point).reshape(2 * count, -1)
    y = labels[picked].astype(np.uint8)
    return (x[:count], y[:count]), (x[count:], y[count:])


def test_fqt_of_the_last_two_layers_learns_noisy_images():
    """Measured (seed 0): 33.8% before, 69.2% after one pass over 500 images (batch 16, lr 0.003)."""
    (x, y), (x_test, y_test) = noisy_split(500)
    m = model_module.load(str(TINY))
    m.plan(batch=100)
    before = m.evaluate(x_test.tobytes(), bytes(y_test)) / len(y_test)
    batch = 16
    t = Trainer(m, method="fqt", batch=batch, lr=0.003)
    assert t.stats()["layers"] == [(4, "fqt"), (6, "fqt")]
    for i in range(0, len(y) - batch + 1, batch):
        t.step(x[i:i + batch].tobytes(), bytes(y[i:i + batch]))
    m.plan(batch=100)
    after = m.evaluate(x_test.tobytes(), bytes(y_test)) / len(y_test)
    assert after >= before + 0.05, f"accuracy {before:.3f} -> {after:.3f}"


def test_the_skip_error_joins_the_branch_error_in_proportion_to_their_scales(monkeypatch):
    """At a residual block's input the error is the branch's plus the skip's, two int8 errors of
    their own scales: merged, each must count by its real size, whichever is larger. Checked in
    float arithmetic from the model file's weight scales and the quantizations' exponents along
    the branch (the branch's scale over the skip's: their product times 2^exponents)."""
    m = model_module.load(str(SMALL))
    branches = {}
    merge = fqt.AddLink.merge

    def recorded(add, chain, error):
        branches[add] = bytearray(error)
        merge(add, chain, error)

    monkeypatch.setattr(fqt.AddLink, "merge", recorded)
    t = Trainer(m, method="fqt", layers=[2, 14], batch=4, lr=0.003)
    (x, y), _ = noisy_split(4, model_path=SMALL)
    t.step(x.tobytes(), bytes(y))
    assert sorted(add.layer.index for add in branches) == [5, 10]
    for add, branch in branches.items():
        skip = np.frombuffer(bytes(add.skip), np.int8).astype(float)
        assert skip.any() and any(branch), "an error of zeros would prove nothing"
        ratio = 1.0
        for link in add.branch:
            layer = link.layer
            s_in, s_out = m.description.scale(layer.inputs[0]), layer.record.scale
            ratio *= max(layer.multiplier[c] * 2.0 ** (layer.shift[c] - 31) * s_out / s_in for c in range(link.channels))
        sides = set()
        even = -math.floor(math.log2(ratio))  # where r crosses 1
        for exponents in range(even - 6, even + 6):
            r = ratio * 2.0 ** exponents
            sides.add(r >= 1)
            error = bytearray(branch)
            add.exponent_at, t.fqt.exponent = 0, exponents
            merge(add, t.fqt, error)
            expected = (np.frombuffer(branch, np.int8) * r + skip) / (2 * max(r, 1))
            assert np.abs(np.frombuffer(error, np.int8) - expected).max() <= 1, (add.layer.index, exponents)
            assert t.fqt.exponent == 1 + (exponents if r >= 1 else 0), "the merged error's exponent"
        assert sides == {True, False}


def test_fqt_rejects_bad_fractions():
    m = model_module.load(str(TINY))
    with pytest.raises(ValueError, match="lmin"):
        Trainer(m, method="fqt", lmin=0.5, lmax=0.2)
    t = Trainer(m, method="fqt")
    with pytest.raises(ValueError, match="lmin"):
        t.set(lmin=0.0)
    assert t.lmin == 1.0  # the old settings stay


def test_partial_updates_pick_channels_of_the_costly_layer_and_update_a_cheap_one_in_full():
    """10% of tiny's last conv (3 of 32 filters) by error norm; its classifier's weight gradient
    costs about 1% of the conv's, so all 10 rows train rather than 1."""
    (x, y), _ = noisy_split(10)
    m = model_module.load(str(TINY))
    conv, dense = (bytes(m.layers[i].weight) for i in (4, 6))
    t = Trainer(m, method="fqt", batch=10, lr=0.01, lmin=0.1, lmax=0.1)
    t.step(x.tobytes(), bytes(y))

    def changed_rows(before, index):
        rows = len(m.layers[index].bias)
        old = np.frombuffer(before, np.int8).reshape(rows, -1)
        return int((old != np.frombuffer(bytes(m.layers[index].weight), np.int8).reshape(rows, -1)).any(axis=1).sum())

    assert 1 <= changed_rows(conv, 4) <= 3
    assert changed_rows(dense, 6) >= 8
