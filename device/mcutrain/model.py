"""An int8 model on the board: layers over the kernels, a memory plan, inference.

    model = load("tiny.mcut")        # validated before anything big is allocated
    model.plan(batch=1)              # the activation arena, once
    logits = model.infer(x)          # x: int8 input; allocates nothing

Tensor t is the input for t = 0 and the output of layer t - 1 otherwise. The plan reuses
arena memory once a tensor is dead; `plan(keep=...)` pins tensors a trainer reads after the
forward pass, and `forward(start=k)` re-runs layers k.. from the tensors left in the arena.
The batch is fixed at plan time and carried by every layer's parameter block, so the host
evaluates thousands of images per call through this same code.
"""

from array import array

from mcutrain import model_file
from mcutrain.backend import kernels
from mcutrain.model_file import ModelError


class Layer:
    """A layer: its kernel, tensors (weight, bias, multiplier, shift) and parameter block."""

    weight = bias = multiplier = shift = None

    def __init__(self, index, record, description):
        self.index, self.record = index, record
        self.inputs, self.output = record.inputs, index + 1
        self.op = model_file.OP_NAMES[record.op]
        self.kernel = getattr(kernels, self.op)
        self.in_shape = description.shape(record.inputs[0])
        self.in_zero_point = description.zero_point(record.inputs[0])
        if record.op in model_file.WEIGHTED:
            self.weight, self.bias, self.multiplier, self.shift = record.tensors

    def set_batch(self, batch):
        self.params[0] = batch

    def run(self, acts):
        self.kernel(acts[self.output], acts[self.inputs[0]], self.weight, self.bias, self.multiplier, self.shift,
                    self.params)


class Convolution(Layer):
    """conv2d and depthwise_conv2d."""

    def __init__(self, index, record, description):
        Layer.__init__(self, index, record, description)
        r = record
        self.params = array("i", (1,) + self.in_shape + r.shape + r.kernel + r.stride + r.pad
                            + (self.in_zero_point, r.zero_point, r.act_min, r.act_max))


class FullyConnected(Layer):
    def __init__(self, index, record, description):
        Layer.__init__(self, index, record, description)
        h, w, c = self.in_shape
        r = record
        self.params = array("i", (1, h * w * c, r.shape[2], self.in_zero_point, r.zero_point, r.act_min, r.act_max))


class Pool(Layer):
    """max_pool and avg_pool."""

    def __init__(self, index, record, description):
        Layer.__init__(self, index, record, description)
        r = record
        self.params = array("i", (1,) + self.in_shape + r.shape[:2] + r.kernel + r.stride + r.pad
                            + (r.act_min, r.act_max))

    def run(self, acts):
        self.kernel(acts[self.output], acts[self.inputs[0]], self.params)


class GlobalAvgPool(Layer):
    def __init__(self, index, record, description):
        Layer.__init__(self, index, record, description)
        self.params = array("i", (1,) + self.in_shape + (record.act_min, record.act_max))

    def run(self, acts):
        self.kernel(acts[self.output], acts[self.inputs[0]], self.params)


class Add(Layer):
    def __init__(self, index, record, description):
        Layer.__init__(self, index, record, description)
        r = record
        a_mult, a_shift, b_mult, b_shift, left_shift, out_mult, out_shift = r.tensors[0]
        h, w, c = r.shape
        self.elements = h * w * c
        self.params = array("i", (self.elements, self.in_zero_point, a_mult, a_shift,
                                  description.zero_point(r.inputs[1]), b_mult, b_shift, left_shift,
                                  r.zero_point, out_mult, out_shift, r.act_min, r.act_max))

    def set_batch(self, batch):
        self.params[0] = batch * self.elements

    def run(self, acts):
        self.kernel(acts[self.output], acts[self.inputs[0]], acts[self.inputs[1]], self.params)


LAYERS = {model_file.CONV2D: Convolution, model_file.DEPTHWISE_CONV2D: Convolution,
          model_file.FULLY_CONNECTED: FullyConnected, model_file.MAX_POOL: Pool, model_file.AVG_POOL: Pool,
          model_file.GLOBAL_AVG_POOL: GlobalAvgPool, model_file.ADD: Add}


def load(path):
    """The model in a file. A file in ROMFS has a buffer, the flash itself: its weights stay there."""
    with open(path, "rb") as f:
        try:
            mapped = memoryview(f)
        except TypeError:  # an ordinary file: its tensors are read into RAM
            mapped = None
        return Model(model_file.load(f, mapped))


def elements(shape):
    h, w, c = shape
    return h * w * c


def nbytes(buf):
    return len(buf) * (4 if isinstance(buf, array) else 1)


def in_flash(tensor):
    """Whether a tensor is a view of a mapped model file (model_file.load's `mapped`)."""
    return isinstance(tensor, memoryview)


class Model:
    def __init__(self, description):
        self.description = description
        self.layers = [LAYERS[r.op](i, r, description) for i, r in enumerate(description.layers)]
        self.input_size = elements(description.input_shape)
        self.classes = elements(description.layers[-1].shape)
        self.batch = 0
        self.arena = []

    def plan(self, batch=1, keep=()):
        """Lays out every activation for `batch` samples in a few reused bytearrays.

        keep: tensors that stay intact until the next forward (a trainer's saved inputs).
        """
        last = len(self.layers)
        if batch < 1:
            raise ModelError("batch must be at least 1, got %d" % batch)
        for t in keep:
            if not 0 <= t <= last:
                raise ModelError("cannot keep tensor %d: tensors are 0..%d" % (t, last))
        self.arena = self.acts = None  # the old plan's memory is free for the new one
        sizes = [batch * elements(self.description.shape(t)) for t in range(last + 1)]
        slot_of, slot_sizes = assign_slots(self.layers, sizes, keep)
        self.arena = [bytearray(n) for n in slot_sizes]
        self.acts = [None] + [memoryview(self.arena[slot_of[t]])[:sizes[t]] for t in range(1, last + 1)]
        self.restartable = tuple(self.restart_inputs(k).issubset(keep) for k in range(last))
        for layer in self.layers:
            layer.set_batch(batch)
        self.batch = batch
        self.predictions = array("i", bytes(4 * batch))
        self.argmax_params = array("i", (batch, self.classes))

    def restart_inputs(self, start):
        """The tensors a forward from layer `start` reads but does not make (a residual add's skip
        among them; tensor 0 is the caller's): what plan() must keep for forward(start)."""
        return {t for layer in self.layers[start:] for t in layer.inputs if 0 < t <= start}

    def activation(self, t):
        """Tensor t's buffer in the arena (t = 0: the last input given to infer)."""
        return self.acts[t]

    def forward(self, start=0):
        """Runs layers start.. on the tensors in the arena; allocates nothing."""
        if not self.batch:
            raise ModelError("plan() the model before running it")
        if not 0 <= start < len(self.layers) or not self.restartable[start]:
            raise ModelError("cannot start at layer %d: keep its earlier inputs at plan()" % start)
        for i in range(start, len(self.layers)):
            self.layers[i].run(self.acts)
        return self.acts[-1]

    def infer(self, x):
        """Logits (int8, batch x classes, in the arena) of x (int8, batch x input, NHWC)."""
        if not self.batch:
            raise ModelError("plan() the model before running it")
        self.acts[0] = x
        return self.forward(0)

    def evaluate(self, images, labels):
        """How many images (int8 inputs back to back) are classified as their labels (one per image)."""
        count, size = len(labels), self.input_size
        if len(images) != count * size:
            raise ModelError("%d bytes of images for %d labels of %d-byte images" % (len(images), count, size))
        images = memoryview(images)
        correct = 0
        for start in range(0, count, self.batch):
            n = min(self.batch, count - start)
            # One planned batch needs no slice, so a board evaluating batch by batch allocates nothing.
            x = images if count == self.batch else images[start * size:(start + n) * size]
            if n < self.batch:
                # The last, partial batch: pad it to the planned batch and ignore the padding.
                padded = bytearray(self.batch * size)
                padded[:n * size] = x
                x = padded
            kernels.argmax(self.predictions, self.infer(x), self.argmax_params)
            for b in range(n):
                if self.predictions[b] == labels[start + b]:
                    correct += 1
        return correct

    def writable(self, layers):
        """Copies the weights of these layers to RAM where they are read in place from flash: a
        trainer changes them. Once copied they stay in RAM, with whatever training did to them."""
        for layer in layers:
            if in_flash(layer.weight):
                layer.weight = layer.record.tensors[0] = bytearray(layer.weight)

    def memory(self):
        """Bytes held in RAM: weights (the tensors not read in place), params (parameter blocks),
        arena (activations), their total; and flash, the weights read in place from flash."""
        tensors = [t for layer in self.description.layers for t in layer.tensors]
        flash = sum(nbytes(t) for t in tensors if in_flash(t))
        weights = sum(nbytes(t) for t in tensors) - flash
        params = sum(nbytes(layer.params) for layer in self.layers)
        arena = sum(len(slot) for slot in self.arena)
        return {"weights": weights, "flash": flash, "params": params, "arena": arena,
                "total": weights + params + arena}


def assign_slots(layers, sizes, keep):
    """(slot of each tensor, size of each slot): liveness-based reuse of a few buffers.

    Tensor 0 is the caller's. A layer's output never shares a slot with its inputs (no kernel
    works in place); a tensor's slot is freed after its last reader unless it is kept or is the
    final output. A free slot that fits is reused (the smallest), else the largest free one grows.
    """
    last = len(layers)
    last_use = [t - 1 for t in range(last + 1)]  # a tensor nobody reads dies where it is made
    for i, layer in enumerate(layers):
        for t in layer.inputs:
            last_use[t] = i
    slot_of = [None] * (last + 1)
    slot_sizes, free = [], []
    for i, layer in enumerate(layers):
        out = i + 1
        fitting = [s for s in free if slot_sizes[s] >= sizes[out]]
        if fitting:
            slot = min(fitting, key=lambda s: slot_sizes[s])
        elif free:
            slot = max(free, key=lambda s: slot_sizes[s])
            slot_sizes[slot] = sizes[out]
        else:
            slot = len(slot_sizes)
            slot_sizes.append(sizes[out])
        if slot in free:
            free.remove(slot)
        slot_of[out] = slot
        for t in set(layer.inputs + (out,)):
            if t and t != last and t not in keep and last_use[t] == i:
                free.append(slot_of[t])
    return slot_of, slot_sizes
