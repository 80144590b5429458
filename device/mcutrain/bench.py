"""Latency and memory on the board: each layer's kernel, inference, a training step.

    import mcutrain.bench
    mcutrain.bench.main("model.mcut", methods=("zo", "fqt"), batch=1, repeat=20, steps=3)

prints lines a host parses (`mcutrain bench`), one fact each, `key=value` after the words:

    bench platform=linux kernels=qnn arch=2 batch=1 repeat=20 steps=3 input=784 classes=10 board=...
    layer 0 conv2d macs=56448 us=101.4
    infer batch=1 us=443.2
    memory stage=model heap_used=... heap_free=... weights=... params=... arena=... total=...
    step zo-mix batch=1 us=9120 loss=...
    memory stage=zo-mix heap_used=... heap_free=... training=... ...
    step hybrid-mix error=MemoryError: memory allocation failed
    end

`board` and `error` run to the end of their line. Times are microseconds (time.ticks_us;
perf_counter_ns on CPython), means over the repeats; a layer's and `infer`'s are per batch, as
are MACs. The timed loops allocate nothing: the input is one buffer made beforehand, the arena
is the model's plan, and a training step allocates nothing by design.
"""

import gc
import sys

from mcutrain import model as model_module
from mcutrain.backend import kernels

try:
    from time import ticks_diff, ticks_us
except ImportError:  # CPython
    from time import perf_counter_ns

    def ticks_us():
        return perf_counter_ns() // 1000

    def ticks_diff(a, b):
        return a - b


def macs(layer):
    """Multiply-accumulates of one sample through the layer (0 for pooling and adds)."""
    r = layer.record
    h, w, c = r.shape
    if layer.op == "conv2d":
        return h * w * c * r.kernel[0] * r.kernel[1] * layer.in_shape[2]
    if layer.op == "depthwise_conv2d":
        return h * w * c * r.kernel[0] * r.kernel[1]
    if layer.op == "fully_connected":
        return c * model_module.elements(layer.in_shape)
    return 0


def pattern(n, seed=1):
    """n bytes of a fixed pseudo-random pattern (a linear congruential sequence)."""
    buf = bytearray(n)
    s = seed
    for i in range(n):
        s = (s * 1103515245 + 12345) & 0x7FFFFFFF
        buf[i] = s >> 23
    return buf


def heap():
    """(bytes in use, bytes free) of the GC heap after a collection; (-1, -1) off MicroPython."""
    gc.collect()
    if hasattr(gc, "mem_alloc"):
        return gc.mem_alloc(), gc.mem_free()
    return -1, -1


def mean_us(call, repeat):
    """Mean microseconds of call() over repeat calls."""
    start = ticks_us()
    for _ in range(repeat):
        call()
    return ticks_diff(ticks_us(), start) / repeat


def time_steps(t, x, y, steps):
    """Mean step time after one warm-up step; returns (us, loss of the last step)."""
    t.step(x, y)
    step = t.step
    loss = 0
    start = ticks_us()
    for _ in range(steps):
        loss = step(x, y)
    return ticks_diff(ticks_us(), start) / steps, loss


def layers(m, repeat):
    """One `layer` line per layer of a planned model (its input in the arena)."""
    for layer in m.layers:
        us = mean_us(layer.run, repeat)
        print("layer %d %s macs=%d us=%.1f" % (layer.index, layer.op, m.batch * macs(layer), us))


def memory(stage, report):
    used, free = heap()
    fields = " ".join("%s=%s" % (k, report[k]) for k in sorted(report))
    print("memory stage=%s heap_used=%d heap_free=%d %s" % (stage, used, free, fields))


def label(method, mode):
    return method if method == "fqt" else "%s-%s" % (method, mode)


def main(path, methods=("zo", "fqt", "hybrid"), mode="mix", batch=1, repeat=20, steps=3, settings=None, arena=0):
    """Loads the model at path and prints the bench lines; settings: more Trainer keywords;
    arena: bytes of the arena to take before anything else (the largest the trainers plan)."""
    from mcutrain.trainer import Trainer

    gc.collect()
    m = model_module.load(path)
    if arena:
        m.reserve(arena)
    m.plan(batch=batch)
    x = pattern(batch * m.input_size)
    y = bytes(i % m.classes for i in range(batch))
    mpy = getattr(sys.implementation, "_mpy", 0)
    print("bench platform=%s kernels=%s arch=%d batch=%d repeat=%d steps=%d input=%d classes=%d board=%s"
          % (sys.platform, kernels.__name__.split(".")[-1], mpy >> 10, batch, repeat, steps, m.input_size, m.classes,
             getattr(sys.implementation, "_machine", sys.platform)))
    m.infer(x)  # warm-up; leaves every layer's input in the arena
    layers(m, repeat)
    print("infer batch=%d us=%.1f" % (batch, mean_us(lambda: m.infer(x), repeat)))
    memory("model", m.memory())
    for method in methods:
        name = label(method, mode)
        t = None
        gc.collect()
        try:
            t = Trainer(m, method=method, batch=batch, mode=mode, **(settings or {}))
            us, loss = time_steps(t, x, y, steps)
            print("step %s batch=%d us=%d loss=%d" % (name, batch, round(us), loss))
            memory(name, t.memory())
        except Exception as e:  # a plan that does not fit or a refused setting: report, go on
            print("step %s error=%s: %s" % (name, type(e).__name__, e))
        t = None
    print("end")
