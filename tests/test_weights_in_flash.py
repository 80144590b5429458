"""Weights read in place from a mapped model file (a file in ROMFS is its flash): only the layers a
trainer changes are copied to RAM, and training gives the bytes it gives from RAM. The emulated
boards mount the model in ROMFS, so tests/test_qemu_boards.py runs this path on ARM."""

import io

import pytest

from mcutrain import model_file
from mcutrain.backend import kernels
from mcutrain.model import Model
from mcutrain.trainer import Trainer
from mcutrain_host import datasets
from mcutrain_host.board import deploy
from mcutrain_host.quantize import quantize_images
from test_trainer import SMALL, TINY


def loaded(path, mapped):
    data = path.read_bytes()
    return Model(model_file.load(io.BytesIO(data), memoryview(data) if mapped else None))


def samples(model, count=8):
    images, labels = datasets.load("fashion-mnist", "test")
    d = model.description
    x = quantize_images(images[:count], d.input_scale, d.input_zero_point).reshape(count, -1)
    return [(row.tobytes(), bytes([int(y)])) for row, y in zip(x, labels[:count])]


def weight_bytes(model):
    return [bytes(layer.weight) for layer in model.layers if layer.weight is not None]


@pytest.mark.parametrize("settings", [dict(method="zo", mode="mix", layers=[2, 6]), dict(method="fqt"),
                                      dict(method="hybrid", layers=[2, 4, 6])])
def test_training_from_flash_copies_only_trained_layers_and_gives_the_same_bytes(settings):
    in_ram, in_flash = loaded(TINY, mapped=False), loaded(TINY, mapped=True)
    weights = sum(len(layer.weight) for layer in in_flash.layers if layer.weight is not None)
    assert in_flash.memory()["flash"] == weights and in_ram.memory()["flash"] == 0
    assert in_flash.memory()["weights"] == in_ram.memory()["weights"] - weights
    trainers = [Trainer(m, lr=0.003, queries=2, **settings) for m in (in_ram, in_flash)]
    trained = {layer.index for layer in trainers[1]._trainable()}
    for m in (in_ram, in_flash):
        for x, y in samples(m):
            trainers[0 if m is in_ram else 1].step(x, y)
    assert weight_bytes(in_flash) == weight_bytes(in_ram)
    assert weight_bytes(in_ram) != weight_bytes(loaded(TINY, mapped=False))  # it did train
    copied = sum(len(in_flash.layers[i].weight) for i in trained)
    assert in_flash.memory()["flash"] == weights - copied
    for layer in in_flash.layers:
        if layer.weight is not None:
            assert isinstance(layer.weight, memoryview) == (layer.index not in trained)


def test_a_layer_in_flash_is_read_only_to_the_kernels():
    layer = loaded(TINY, mapped=True).layers[4]
    before = bytes(layer.weight)
    with pytest.raises((TypeError, ValueError)):
        kernels.perturb(layer.weight, bytearray((len(layer.weight) + 7) // 8), 12345, 1, 1)
    assert bytes(layer.weight) == before


def test_layer_selection_probes_flash_layers_through_ram_and_leaves_them_in_flash():
    in_ram, in_flash = loaded(SMALL, mapped=False), loaded(SMALL, mapped=True)
    chosen = []
    for m in (in_ram, in_flash):
        t = Trainer(m, layers=[14], queries=2)
        x, y = samples(m, 1)[0]
        chosen.append(t.select_layers(x, y, 2))
    assert chosen[0] == chosen[1]
    assert weight_bytes(in_flash) == weight_bytes(in_ram)
    untrained = [layer for layer in in_flash.layers if layer.weight is not None and layer.index not in chosen[1] + [14]]
    assert untrained and all(isinstance(layer.weight, memoryview) for layer in untrained)


def test_the_fit_check_counts_only_the_trained_weights_of_a_model_read_in_place():
    medium = TINY.with_name("medium.mcut")
    settings = {"method": "fqt", "batch": 1}
    in_ram = deploy.needed(medium, settings, None)[0]["server"]
    in_place = deploy.needed(medium, settings, None, weights_in_flash=True)[0]["server"]
    m = loaded(medium, mapped=True)
    Trainer(m, **settings)
    untrained = m.memory()["flash"]
    assert untrained > 250_000 and abs((in_ram - in_place) - untrained) < 0.05 * untrained
