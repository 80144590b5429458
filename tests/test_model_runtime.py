"""The device Model on CPython (NumPy reference kernels): memory plan, keep, forward(start),
batching and evaluate, on a synthetic model with every layer kind."""

import numpy as np
import pytest

from mcutrain.model import Model, assign_slots
from mcutrain.model_file import ModelError
from model_cases import SYNTHETIC_SHAPE, synthetic_model


@pytest.fixture(scope="module")
def description():
    return synthetic_model(1)


@pytest.fixture(scope="module")
def inputs():
    rng = np.random.default_rng(9)
    return rng.integers(-128, 128, (12, *SYNTHETIC_SHAPE), dtype=np.int8)


def every_tensor(description, x):
    """Each tensor of a forward pass, from a plan that keeps them all (no reuse)."""
    model = Model(description)
    model.plan(batch=len(x), keep=range(len(model.layers) + 1))
    model.infer(x.reshape(-1))
    return [bytes(model.activation(t)) for t in range(1, len(model.layers) + 1)]


def test_slots_never_hold_two_live_tensors(description):
    model = Model(description)
    sizes = [1000 + 37 * t for t in range(len(model.layers) + 1)]
    slot_of, slot_sizes = assign_slots(model.layers, sizes, keep=(3,))
    readers = {t: [i for i, layer in enumerate(model.layers) if t in layer.inputs] for t in range(len(sizes))}
    for i in range(len(model.layers)):
        # Live while layer i runs: its output, and every tensor made before it and read at i or later.
        live = [i + 1] + [t for t in range(1, i + 1) if t == 3 or any(r >= i for r in readers[t])]
        assert len({slot_of[t] for t in live}) == len(live), (i, live)
    assert all(slot_sizes[slot_of[t]] >= sizes[t] for t in range(1, len(sizes)))
    assert sum(slot_sizes) < sum(sizes[1:])


def test_reuse_does_not_change_the_logits(description, inputs):
    expected = every_tensor(description, inputs)
    model = Model(description)
    model.plan(batch=len(inputs))
    assert bytes(model.infer(inputs.reshape(-1))) == expected[-1]
    assert model.memory()["arena"] < sum(len(t) for t in expected)


def test_batch_one_equals_a_batch(description, inputs):
    expected = every_tensor(description, inputs)[-1]
    model = Model(description)
    model.plan(batch=1)
    got = b"".join(bytes(model.infer(x.reshape(-1))) for x in inputs)
    assert got == expected


def test_kept_tensor_survives_and_forward_restarts_from_it(description, inputs):
    expected = every_tensor(description, inputs)
    model = Model(description)
    add = next(layer for layer in model.layers if layer.op == "add")
    # Restart at the add: it reads the output of layer 0 (its skip) and of the layer before it.
    keep = add.inputs
    model.plan(batch=len(inputs), keep=keep)
    model.infer(inputs.reshape(-1))
    for t in keep:
        assert bytes(model.activation(t)) == expected[t - 1]
    np.frombuffer(model.activation(len(model.layers)), np.int8)[:] = 0
    assert bytes(model.forward(start=add.index)) == expected[-1]
    with pytest.raises(ModelError, match="keep its earlier inputs"):
        model.forward(start=add.index + 2)


def test_evaluate_counts_matches_over_a_partial_last_batch(description, inputs):
    logits = np.frombuffer(every_tensor(description, inputs)[-1], np.int8).reshape(len(inputs), -1)
    predictions = logits.argmax(axis=1)
    labels = predictions.astype(np.uint8).copy()
    labels[::3] = (labels[::3] + 1) % logits.shape[1]
    model = Model(description)
    model.plan(batch=5)  # 12 images: two full batches and a padded one
    assert model.evaluate(inputs.reshape(-1), labels) == int((labels == predictions).sum())


def test_memory_reports_bytes(description):
    model = Model(description)
    model.plan(batch=2)
    memory = model.memory()
    tensors = [t for layer in description.layers for t in layer.tensors]
    assert memory["weights"] == sum(len(memoryview(t).cast("B")) for t in tensors)
    assert memory["arena"] == sum(len(slot) for slot in model.arena)
    assert memory["total"] == memory["weights"] + memory["params"] + memory["arena"]


def test_misuse_raises_model_error(description):
    model = Model(description)
    with pytest.raises(ModelError, match="plan"):
        model.infer(bytearray(19 * 21 * 2))
    with pytest.raises(ModelError, match="batch"):
        model.plan(batch=0)
    with pytest.raises(ModelError, match="keep tensor 99"):
        model.plan(keep=(99,))
    model.plan()
    with pytest.raises(ModelError, match="labels"):
        model.evaluate(bytearray(10), bytearray(1))
