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
