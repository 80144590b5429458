"""Float pre-training: exact gradients for every layer kind, determinism, the shipped sizes."""

import numpy as np
import pytest

from mcutrain_host import architectures as A
from mcutrain_host import network as float_network
from mcutrain_host.network import Network
from mcutrain_host.training import softmax_cross_entropy, train
from model_cases import EVERY_LAYER_KIND


def test_backward_matches_finite_differences():
    # float64 so that central differences are accurate to ~1e-8; odd sizes exercise the implicit
    # bottom/right padding.
    net = Network(EVERY_LAYER_KIND, (19, 21, 2), seed=3)
    for part in net.parameters():
        for name in part.params:
            part.params[name] = part.params[name].astype(np.float64)
    rng = np.random.default_rng(0)
    x, y = rng.random((5, 19, 21, 2)), rng.integers(0, 5, 5)

    def loss():
        return softmax_cross_entropy(net.logits(x, train=True), y)[0]

    net.backward(softmax_cross_entropy(net.logits(x, train=True), y)[1])
    checked = 0
    for part in net.parameters():
        for name, p in part.params.items():
            for idx in list(np.ndindex(p.shape))[::max(1, p.size // 5)]:
                old = p[idx]
                p[idx] = old + 1e-5
                plus = loss()
                p[idx] = old - 1e-5
                minus = loss()
                p[idx] = old
                numeric = (plus - minus) / 2e-5
                assert abs(numeric - part.grads[name][idx]) <= 1e-5 + 1e-4 * abs(numeric), (type(part), name, idx)
                checked += 1
    assert checked > 60


def test_training_is_deterministic_for_a_seed_and_learns(tmp_path):
    rng = np.random.default_rng(5)
    # Two classes a small CNN separates: bright top half against bright bottom half.
    labels = rng.integers(0, 2, 256).astype(np.uint8)
    images = rng.integers(0, 60, (256, 12, 12, 1)).astype(np.uint8)
    images[labels == 0, :6] += 150
    images[labels == 1, 6:] += 150
    description = [A.conv(4), A.max_pool(), A.dense(2)]
    weights = []
    for _ in range(2):
        net = Network(description, (12, 12, 1), seed=7)
        train(net, images, labels, epochs=2, batch_size=32, lr=1e-2, seed=7)
        net.save(tmp_path / "m.npz")
        weights.append(float_network.load(tmp_path / "m.npz").layers[0].params["weight"])
    assert np.array_equal(weights[0], weights[1])
    assert (net.predict(images) == labels).mean() > 0.95
    other = Network(description, (12, 12, 1), seed=8)
    train(other, images, labels, epochs=2, batch_size=32, lr=1e-2, seed=8)
    assert not np.array_equal(other.layers[0].params["weight"], net.layers[0].params["weight"])


def test_saved_network_has_batch_norm_folded(tmp_path):
    net = Network([A.conv(3), A.global_avg_pool(), A.dense(4)], (8, 8, 1), seed=1)
    rng = np.random.default_rng(2)
    net.logits(rng.random((16, 8, 8, 1)).astype(np.float32), train=True)  # moves the running stats
    net.save(tmp_path / "m.npz")
    loaded = float_network.load(tmp_path / "m.npz")
    assert loaded.layers[0].batch_norm is None
    x = rng.random((4, 8, 8, 1)).astype(np.float32)
    assert np.allclose(loaded.logits(x), net.logits(x), atol=1e-5)


@pytest.mark.parametrize("name, limit", [("tiny", 15_000), ("small", 60_000)])
def test_shipped_descriptions_fit_their_budgets(name, limit):
    net = Network(A.ARCHITECTURES[name](10), (28, 28, 1))
    assert net.parameter_count() <= limit
    assert net.shapes[-1] == (1, 1, 10)


def test_small_is_built_of_depthwise_separable_blocks():
    ops = [spec["op"] for spec in A.small(10)]
    assert ops.count("depthwise_conv2d") >= 3 and "add" in ops
    for i, op in enumerate(ops):
        if op == "depthwise_conv2d":
            assert A.small(10)[i + 1]["op"] == "conv2d" and A.small(10)[i + 1]["kernel"] == 1
