"""The device Model on CPython (NumPy reference kernels): the one-arena plan, kept tensors,
forward(start), batching and evaluate, on a synthetic model with every layer kind."""

import numpy as np
import pytest

from mcutrain.model import Model
from mcutrain.model_file import ModelError
from mcutrain.plan import Plan
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
    plan = Plan(model, len(x))
    plan.read(range(len(model.layers) + 1))
    model.use(plan)
    model.infer(x.reshape(-1))
    return [bytes(model.activation(t)) for t in range(1, len(model.layers) + 1)]


def test_buffers_that_live_at_the_same_time_never_share_bytes(description):
    model = Model(description)
    plan = Plan(model, 3)
    add = next(layer for layer in model.layers if layer.op == "add")
    since = plan.time
    plan.forward(add.index)  # a stage re-running from the add, as a ZO query does
    scratch = plan.int32(100, since)
    plan.read([1])
    size = plan.place()
    offsets, sizes = plan.offsets, plan.sizes
    lives = {}
    for i in range(0, len(plan.lives), 3):
        lives.setdefault(plan.lives[i], []).append((plan.lives[i + 1], plan.lives[i + 2]))
    placed = list(plan.tensors[1:]) + [scratch]
    for i, a in enumerate(placed):
        assert offsets[a] % 8 == 0 and offsets[a] + sizes[a] <= size
        for b in placed[i + 1:]:
            live_together = any(a0 <= b1 and b0 <= a1 for a0, a1 in lives[a] for b0, b1 in lives[b])
            apart = offsets[a] + sizes[a] <= offsets[b] or offsets[b] + sizes[b] <= offsets[a]
            assert apart or not live_together
    # A layer's output and its inputs live while it runs, so they never share bytes.
    for layer in model.layers:
        for t in layer.inputs:
            if t:
                out, x = plan.tensors[layer.output], plan.tensors[t]
                assert offsets[out] + sizes[out] <= offsets[x] or offsets[x] + sizes[x] <= offsets[out]
    assert size < sum(sizes[b] for b in placed)


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
    plan = Plan(model, len(inputs))
    plan.forward(add.index)
    model.use(plan)
    model.infer(inputs.reshape(-1))
    for t in add.inputs:
        assert bytes(model.activation(t)) == expected[t - 1]
    np.frombuffer(model.activation(len(model.layers)), np.int8)[:] = 0
    assert bytes(model.forward(start=add.index)) == expected[-1]
    with pytest.raises(ModelError, match="no planned pass starts there"):
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
    assert memory["arena"] == memory["planned"] == len(model.arena)
    assert memory["total"] == memory["weights"] + memory["params"] + memory["arena"]


def test_misuse_raises_model_error(description):
    model = Model(description)
    with pytest.raises(ModelError, match="plan"):
        model.infer(bytearray(19 * 21 * 2))
    with pytest.raises(ModelError, match="batch"):
        model.plan(batch=0)
    with pytest.raises(ModelError, match="keep tensor 99"):
        Plan(model, 1).read([99])
    model.plan()
    with pytest.raises(ModelError, match="needs an arena of"):
        model.use(Plan(model, 2), arena=bytearray(16))
    with pytest.raises(ModelError, match="labels"):
        model.evaluate(bytearray(10), bytearray(1))
