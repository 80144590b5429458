"""Float layers for pre-training in NumPy: forward, backward, and export for quantization.

Tensors are float32 NHWC. Window geometry is the int8 kernels' (docs/kernels.md): output
(oy, ox) reads input rows oy*stride - pad + ky, positions outside the image contribute
nothing, out = (in + 2*pad - kernel) // stride + 1. Each layer keeps what its backward needs
from its last forward, and its parameter gradients in `grads` (same keys as `params`).
"""

import numpy as np

BN_EPSILON = 1e-5
BN_MOMENTUM = 0.9


class Windows:
    """Sliding-window geometry of conv2d, depthwise conv and pooling."""

    def __init__(self, in_shape, kernel, stride, pad):
        self.in_h, self.in_w, _ = in_shape
        self.kernel, self.stride, self.pad = kernel, stride, pad
        self.out_h = (self.in_h + 2 * pad - kernel) // stride + 1
        self.out_w = (self.in_w + 2 * pad - kernel) // stride + 1
        if self.out_h < 1 or self.out_w < 1:
            raise ValueError(f"a {kernel}x{kernel} window does not fit a {self.in_h}x{self.in_w} input")
        # Bottom/right padding is whatever the last window needs (the kernels' implicit padding).
        self.pad_bottom = max(0, (self.out_h - 1) * stride + kernel - pad - self.in_h)
        self.pad_right = max(0, (self.out_w - 1) * stride + kernel - pad - self.in_w)

    def padded(self, x):
        if not (self.pad or self.pad_bottom or self.pad_right):
            return x
        return np.pad(x, ((0, 0), (self.pad, self.pad_bottom), (self.pad, self.pad_right), (0, 0)))

    def unpadded(self, xp):
        return xp[:, self.pad:self.pad + self.in_h, self.pad:self.pad + self.in_w]

    def window(self, ky, kx):
        """Index of the inputs that kernel tap (ky, kx) reads for every output, in a padded input."""
        s = self.stride
        return (slice(None), slice(ky, ky + s * (self.out_h - 1) + 1, s), slice(kx, kx + s * (self.out_w - 1) + 1, s))

    def taps(self):
        return [(ky, kx) for ky in range(self.kernel) for kx in range(self.kernel)]


def channel_sum(z):
    """Sum over N, H, W of an NHWC tensor; a matrix-vector product is far faster than np.sum here."""
    z2 = z.reshape(-1, z.shape[-1])
    return np.ones(len(z2), z.dtype) @ z2


def activate(z, act):
    if act == "relu":
        return np.maximum(z, 0)
    if act == "relu6":
        return np.clip(z, 0, 6)
    return z


def activation_grad(dy, y, act):
    if act == "relu":
        return dy * (y > 0)
    if act == "relu6":
        return dy * ((y > 0) & (y < 6))
    return dy


class BatchNorm:
    """Per-channel batch norm over N, H, W; folded into the convolution before it at export."""

    def __init__(self, channels):
        self.params = {"gamma": np.ones(channels, np.float32), "beta": np.zeros(channels, np.float32)}
        self.mean = np.zeros(channels, np.float32)
        self.var = np.ones(channels, np.float32)

    def forward(self, z, train):
        if train:
            mean = channel_sum(z) / self.count(z)
            var = channel_sum(np.square(z - mean)) / self.count(z)
            self.mean = BN_MOMENTUM * self.mean + (1 - BN_MOMENTUM) * mean
            self.var = BN_MOMENTUM * self.var + (1 - BN_MOMENTUM) * var
        else:
            mean, var = self.mean, self.var
        self.inv_std = (1 / np.sqrt(var + BN_EPSILON)).astype(z.dtype)
        self.normalized = (z - mean) * self.inv_std
        return self.params["gamma"] * self.normalized + self.params["beta"]

    def backward(self, dy):
        self.grads = {"gamma": channel_sum(dy * self.normalized), "beta": channel_sum(dy)}
        dn = dy * self.params["gamma"]
        count = self.count(dy)
        return self.inv_std / count * (count * dn - channel_sum(dn)
                                       - self.normalized * channel_sum(dn * self.normalized))

    @staticmethod
    def count(z):
        return z.shape[0] * z.shape[1] * z.shape[2]

    def fold(self, weight, bias, channel_axis):
        """(weight, bias) of the convolution that computes conv followed by this batch norm."""
        scale = self.params["gamma"] / np.sqrt(self.var + BN_EPSILON)
        shape = [1] * weight.ndim
        shape[channel_axis] = -1
        return weight * scale.reshape(shape), (bias - self.mean) * scale + self.params["beta"]


class Layer:
    """What every layer has; parameterless layers keep the empty defaults."""

    params = {}
    grads = {}
    batch_norm = None

    def export(self):
        """The float weights the int8 model is quantized from (batch norm folded)."""
        return {}


class Convolution(Layer):
    """conv2d (weights OHWI) or depthwise conv (weights [k, k, c]), + act; padding "pad" on top
    and left ("same", (k - 1) // 2, unless the spec says), bottom and right as the kernels do."""

    def __init__(self, spec, in_shapes, rng, batch_norm):
        (in_shape,) = in_shapes
        self.op, self.act = spec["op"], spec["act"]
        self.depthwise = self.op == "depthwise_conv2d"
        k, channels = spec["kernel"], in_shape[2]
        self.windows = Windows(in_shape, k, spec["stride"], spec.get("pad", (k - 1) // 2))
        self.out_c = channels if self.depthwise else spec["filters"]
        self.out_shape = (self.windows.out_h, self.windows.out_w, self.out_c)
        shape = (k, k, channels) if self.depthwise else (self.out_c, k, k, channels)
        fan_in = k * k * (1 if self.depthwise else channels)
        self.params = {"weight": (rng.standard_normal(shape) * np.sqrt(2 / fan_in)).astype(np.float32),
                       "bias": np.zeros(self.out_c, np.float32)}
        self.batch_norm = BatchNorm(self.out_c) if batch_norm else None
        self.channel_axis = 2 if self.depthwise else 0

    def forward(self, inputs, train):
        xp = self.windows.padded(inputs[0])
        w = self.params["weight"]
        if self.depthwise:
            z = sum(xp[self.windows.window(ky, kx)] * w[ky, kx] for ky, kx in self.windows.taps())
        else:
            self.cols = self.columns(xp)
            z = (self.cols @ w.reshape(self.out_c, -1).T).reshape(len(xp), *self.out_shape)
        self.xp_shape = xp.shape
        self.xp = xp if self.depthwise else None
        z = z + self.params["bias"]
        if self.batch_norm:
            z = self.batch_norm.forward(z, train)
        self.y = activate(z, self.act)
        return self.y

    def columns(self, xp):
        """im2col: one row per output position, the window's taps in (ky, kx, c) order."""
        win = self.windows
        n, c = xp.shape[0], xp.shape[3]
        if win.kernel == 1 and win.stride == 1:
            return xp.reshape(-1, c)
        cols = np.empty((n, win.out_h, win.out_w, win.kernel, win.kernel, c), xp.dtype)
        for ky, kx in win.taps():
            cols[:, :, :, ky, kx] = xp[win.window(ky, kx)]
        return cols.reshape(n * win.out_h * win.out_w, -1)

    def backward(self, dy):
        dz = activation_grad(dy, self.y, self.act)
        if self.batch_norm:
            dz = self.batch_norm.backward(dz)
        w = self.params["weight"]
        dxp = np.zeros(self.xp_shape, dz.dtype)
        if self.depthwise:
            dw = np.empty_like(w)
            for ky, kx in self.windows.taps():
                window = self.windows.window(ky, kx)
                dw[ky, kx] = (self.xp[window] * dz).sum(axis=(0, 1, 2))
                dxp[window] += dz * w[ky, kx]
        else:
            dz2 = dz.reshape(-1, self.out_c)
            dw = (dz2.T @ self.cols).reshape(w.shape)
            dcols = (dz2 @ w.reshape(self.out_c, -1)).reshape(
                self.xp_shape[0], self.windows.out_h, self.windows.out_w, self.windows.kernel, self.windows.kernel, -1)
            for ky, kx in self.windows.taps():
                dxp[self.windows.window(ky, kx)] += dcols[:, :, :, ky, kx]
        self.grads = {"weight": dw, "bias": dz.sum(axis=(0, 1, 2))}
        return [self.windows.unpadded(dxp)]

    def export(self):
        weight, bias = self.params["weight"], self.params["bias"]
        if self.batch_norm:
            weight, bias = self.batch_norm.fold(weight, bias, self.channel_axis)
        return {"weight": weight.astype(np.float32), "bias": bias.astype(np.float32)}


class Dense(Layer):
    """Fully connected on the NHWC-flattened input (the int8 kernel's order), + act."""

    def __init__(self, spec, in_shapes, rng, batch_norm):
        (in_shape,) = in_shapes
        self.act, self.in_shape = spec["act"], in_shape
        fan_in = int(np.prod(in_shape))
        self.out_shape = (1, 1, spec["units"])
        weight = rng.standard_normal((spec["units"], fan_in)) * np.sqrt(1 / fan_in)
        self.params = {"weight": weight.astype(np.float32), "bias": np.zeros(spec["units"], np.float32)}

    def forward(self, inputs, train):
        self.x = inputs[0].reshape(len(inputs[0]), -1)
        self.y = activate(self.x @ self.params["weight"].T + self.params["bias"], self.act)
        return self.y.reshape(len(self.y), *self.out_shape)

    def backward(self, dy):
        dz = activation_grad(dy.reshape(self.y.shape), self.y, self.act)
        self.grads = {"weight": dz.T @ self.x, "bias": dz.sum(axis=0)}
        return [(dz @ self.params["weight"]).reshape(len(dz), *self.in_shape)]

    def export(self):
        return {"weight": self.params["weight"].copy(), "bias": self.params["bias"].copy()}


class Pool(Layer):
    """max_pool (gradient to the first maximum, like the int8 kernel) or avg_pool, unpadded."""

    def __init__(self, spec, in_shapes, rng, batch_norm):
        (in_shape,) = in_shapes
        self.op = spec["op"]
        self.windows = Windows(in_shape, spec["kernel"], spec["stride"], 0)
        self.out_shape = (self.windows.out_h, self.windows.out_w, in_shape[2])

    def forward(self, inputs, train):
        x = self.x = inputs[0]
        views = [x[self.windows.window(ky, kx)] for ky, kx in self.windows.taps()]
        self.y = np.max(views, axis=0) if self.op == "max_pool" else np.mean(views, axis=0)
        return self.y

    def backward(self, dy):
        dx = np.zeros_like(self.x)
        taken = np.zeros(dy.shape, bool)
        for ky, kx in self.windows.taps():
            window = self.windows.window(ky, kx)
            if self.op == "max_pool":
                first = (self.x[window] == self.y) & ~taken
                taken |= first
                dx[window] += dy * first
            else:
                dx[window] += dy / self.windows.kernel ** 2
        return [dx]


class GlobalAvgPool(Layer):
    def __init__(self, spec, in_shapes, rng, batch_norm):
        (self.in_shape,) = in_shapes
        self.out_shape = (1, 1, self.in_shape[2])

    def forward(self, inputs, train):
        return inputs[0].mean(axis=(1, 2), keepdims=True)

    def backward(self, dy):
        h, w, _ = self.in_shape
        return [np.broadcast_to(dy / (h * w), (len(dy), *self.in_shape)).copy()]


class Add(Layer):
    """Residual add of two tensors of one shape, + act."""

    def __init__(self, spec, in_shapes, rng, batch_norm):
        a, b = in_shapes
        if a != b:
            raise ValueError(f"add: shapes {a} and {b} differ")
        self.act, self.out_shape = spec["act"], a

    def forward(self, inputs, train):
        self.y = activate(inputs[0] + inputs[1], self.act)
        return self.y

    def backward(self, dy):
        dz = activation_grad(dy, self.y, self.act)
        return [dz, dz]


LAYERS = {"conv2d": Convolution, "depthwise_conv2d": Convolution, "fully_connected": Dense,
          "max_pool": Pool, "avg_pool": Pool, "global_avg_pool": GlobalAvgPool, "add": Add}
