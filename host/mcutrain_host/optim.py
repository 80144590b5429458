"""Adam over a network's parameters, with a cosine learning-rate schedule."""

import math

import numpy as np


class Adam:
    def __init__(self, parts, lr, total_steps, beta1=0.9, beta2=0.999, eps=1e-8):
        self.parts, self.lr, self.total_steps = parts, lr, total_steps
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.moments = [{name: (np.zeros_like(p), np.zeros_like(p)) for name, p in part.params.items()}
                        for part in parts]
        self.steps = 0

    def rate(self):
        # Cosine decay to zero: the last epochs settle the weights the int8 model inherits.
        return self.lr * 0.5 * (1 + math.cos(math.pi * min(self.steps, self.total_steps) / self.total_steps))

    def step(self):
        self.steps += 1
        lr = self.rate()
        correction = math.sqrt(1 - self.beta2 ** self.steps) / (1 - self.beta1 ** self.steps)
        for part, moments in zip(self.parts, self.moments):
            for name, (m, v) in moments.items():
                g = part.grads[name]
                m *= self.beta1
                m += (1 - self.beta1) * g
                v *= self.beta2
                v += (1 - self.beta2) * g * g
                part.params[name] -= (lr * correction * m / (np.sqrt(v) + self.eps)).astype(np.float32)


class StandardizedSGD:
    """FQT's update rule in float (docs/algorithms.md, section 2): per output channel (a conv
    filter, a dense row) w -= lr * (g - mean g) / std g; the bias as one group of channels.
    Cosine-decayed like the board's schedule."""

    def __init__(self, layers, lr, total_steps):
        self.layers, self.lr, self.total_steps = layers, lr, total_steps
        self.steps = 0

    def step(self):
        lr = self.lr * 0.5 * (1 + math.cos(math.pi * min(self.steps, self.total_steps) / self.total_steps))
        self.steps += 1
        for layer in self.layers:
            for name, g in layer.grads.items():
                axis = getattr(layer, "channel_axis", 0) if name == "weight" else None
                layer.params[name] -= (lr * standardized(g, axis)).astype(np.float32)


def standardized(g, channel_axis):
    """(g - mean) / std over each channel's elements (channel_axis None: over all), 0 where std is 0."""
    if channel_axis is None:
        groups = g.reshape(1, -1)
    else:
        groups = np.moveaxis(g, channel_axis, 0).reshape(g.shape[channel_axis], -1)
    std = groups.std(axis=1, keepdims=True)
    out = np.divide(groups - groups.mean(axis=1, keepdims=True), std, out=np.zeros_like(groups), where=std > 0)
    if channel_axis is None:
        return out.reshape(g.shape)
    return np.moveaxis(out.reshape(np.moveaxis(g, channel_axis, 0).shape), 0, channel_axis)
