"""Which layers to train: the zeroth-order gradient-norm ratio (docs/algorithms.md, section 1).

A layer's score is ||G / s_w|| / ||W s_w||: how large a step its gradient asks for, relative to
the weights themselves, both in real units. G comes from a few weight-perturbation probes of
the layer, c_q = L(W + sigma u_q) - L(W); since E[(sum_q c_q u_q)_i^2] = sum_q c_q^2 for
independent Rademacher u_q, ||G / s_w||^2 is estimated as sum_c n_c / s_c^2 * sum_q c_q^2
without forming G. The arithmetic is fixed-point (mcutrain.fixed), so every board and the host
pick the same layers.
"""

from array import array

from mcutrain import fixed, scales
from mcutrain.backend import kernels
from mcutrain.model import in_flash


def gradient_norm_ratios(trainer, layers, x, labels, queries):
    """[(score squared as a fixed-point pair, layer index)] for the weighted `layers`."""
    model, loss = trainer.model, trainer.loss
    loss.set_labels(labels)
    base = loss(model.infer(x))
    seeds = array("i", bytes(4 * queries))
    results = []
    for layer in layers:
        mask = bytearray((len(layer.weight) + 7) // 8)
        kernels.seeds(seeds, trainer.stream)
        squares = 0
        weight = layer.weight
        if in_flash(weight):  # read-only: probe a copy in RAM, one layer at a time
            layer.weight = bytearray(weight)
        for q in range(queries):
            kernels.perturb(layer.weight, mask, seeds[q], trainer.sigma, 1)
            plus = loss(model.forward(0))
            kernels.unperturb(layer.weight, mask, seeds[q], trainer.sigma, 1)
            squares += (plus - base) ** 2
        layer.weight = weight
        results.append((_ratio_squared(model.description, layer, squares), layer.index))
    model.infer(x)  # leave the arena as an unperturbed forward pass
    return results


def _ratio_squared(description, layer, squares):
    channels = layer.record.shape[2]
    per_channel = len(layer.weight) // channels
    gradient, weights = (0, 0), (0, 0)
    depthwise = layer.op == "depthwise_conv2d"
    weight = layer.weight
    for c in range(channels):
        s = scales.weight(description, layer, c)
        s2 = fixed.mul(s, s)
        gradient = _add(gradient, fixed.div(fixed.from_int(per_channel * squares), s2))
        # Depthwise weights are [k_h, k_w, c]: channel c is every channels-th element.
        indices = range(c, len(weight), channels) if depthwise else range(c * per_channel, (c + 1) * per_channel)
        w2 = 0
        for i in indices:
            v = weight[i]
            w2 += (v - 256 if v > 127 else v) ** 2
        weights = _add(weights, fixed.mul(fixed.from_int(w2), s2))
    if weights[0] == 0:
        return (1 << 30, 0) if gradient[0] else (0, 0)
    return fixed.div(gradient, weights)


def _add(a, b):
    """a + b for fixed-point pairs, exact before normalisation."""
    if a[0] == 0:
        return b
    if b[0] == 0:
        return a
    e = min(a[1], b[1])
    return fixed.normalise((a[0] << (a[1] - e)) + (b[0] << (b[1] - e)), e)


def _greater(a, b):
    """a > b for fixed-point pairs."""
    e = min(a[1], b[1])
    return (a[0] << (a[1] - e)) > (b[0] << (b[1] - e))


def top(scored, count):
    """The indices of the `count` best-scored layers, ascending; ties go to the earlier layer."""
    chosen = []
    remaining = list(scored)
    for _ in range(min(count, len(remaining))):
        best = remaining[0]
        for item in remaining[1:]:
            if _greater(item[0], best[0]):
                best = item
        chosen.append(best[1])
        remaining.remove(best)
    return sorted(chosen)
