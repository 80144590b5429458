"""Model files for tests: the committed ones, and a small synthetic one with every layer kind."""

from pathlib import Path

import numpy as np

from mcutrain_host import architectures as A
from mcutrain_host.network import Network
from mcutrain_host.quantize import quantize

MODELS = Path(__file__).resolve().parents[1] / "models"

# Odd sizes, strides, both pools, a residual add with ReLU, depthwise, pointwise, ReLU6, GAP, dense.
EVERY_LAYER_KIND = [
    A.conv(4, stride=2, act="relu"),
    *A.residual(A.separable(4, act="none"), act="relu"),
    A.depthwise(stride=2),
    A.max_pool(),
    A.pointwise(6, act="relu6"),
    A.avg_pool(),
    A.global_avg_pool(),
    A.dense(5),
]
SYNTHETIC_SHAPE = (19, 21, 2)


def synthetic_model(seed=0):
    """A quantized ModelFile of EVERY_LAYER_KIND with batch-norm statistics from random images."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (64, *SYNTHETIC_SHAPE), dtype=np.uint8)
    net = Network(EVERY_LAYER_KIND, SYNTHETIC_SHAPE, seed=seed)
    net.logits(images.astype(np.float32) / 255, train=True)
    return quantize(net, images)
