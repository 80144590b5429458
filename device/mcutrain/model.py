"""An int8 model on the board: layers over the kernels, a memory plan, inference.

    model = load("tiny.mcut")        # validated before anything big is allocated
    model.plan(batch=1)              # the arena, once
    logits = model.infer(x)          # x: int8 input; allocates nothing

Tensor t is the input for t = 0 and the output of layer t - 1 otherwise. Every activation, and
every buffer of a trainer, lives in one arena laid out by mcutrain.plan: a trainer plans its
stages (`model.use(plan)`), switches to a stage's tensors (`model.stage(n)`; infer switches to
stage 0, the forward pass), and `forward(start=k)` re-runs layers k.. where a pass from k is
planned, from the tensors the plan kept for it.
The batch is fixed at plan time and carried by every layer's parameter block, so the host
evaluates thousands of images per call through this same code.
"""

import gc
from array import array

from mcutrain import model_file
from mcutrain.backend import kernels
from mcutrain.model_file import ModelError

# Output pixels of a call (its batch included) from which a conv2d or fully connected layer gets
# the scratch: widening its weights costs a few instructions a weight, and saves some on every
# tap of every pixel (qnn.h).
WIDEN_MIN_PIXELS = 8
# Elements of a call from which add gets it: its tables cost 512 requantizations and 64-bit products,
# and save three requantizations an element (they pay from about 360: docs/kernels.md).
ADD_TABLES_MIN_ELEMENTS = 512
# The smallest scratch taken: four channels of a 1x1 convolution's widened weights over 4 input
# channels, 64 bytes on the Cortex-M0 (32 on the M4).
SCRATCH_MIN = 64


class Layer:
    """A layer of `model`: its kernel, tensors (weight, bias, multiplier, shift) and parameter
    block, and the kernel's scratch where it has one (Model.take_scratch). run() makes its
    output from its inputs among the model's current tensors (model.acts)."""

    weight = bias = multiplier = shift = None

    def __init__(self, model, index, record, description):
        self.model, self.index, self.record = model, index, record
        self.scratch = None  # in the instance's dict from the start: added later, the dict would grow
        self.inputs, self.output = record.inputs, index + 1
        self.op = model_file.OP_NAMES[record.op]
        self.kernel = getattr(kernels, self.op)
        self.in_shape = description.shape(record.inputs[0])
        self.in_zero_point = description.zero_point(record.inputs[0])
        if record.op in model_file.WEIGHTED:
            self.weight, self.bias, self.multiplier, self.shift = record.tensors

    def set_batch(self, batch):
        self.params[0] = batch

    def run(self):
        # The tensors are looked up here, not passed: MicroPython gives a call whose locals and
        # stack pass 11 words a frame on the heap, and with `acts` as an argument this one needs
        # 12 (conv2d's eight arguments): a gc_alloc a layer, which scans the heap for a hole.
        if self.scratch is None:
            self.kernel(self.model.acts[self.output], self.model.acts[self.inputs[0]], self.weight, self.bias,
                        self.multiplier, self.shift, self.params)
        else:
            self.kernel(self.model.acts[self.output], self.model.acts[self.inputs[0]], self.weight, self.bias,
                        self.multiplier, self.shift, self.params, self.scratch)

    def scratch_bytes(self, batch):
        """Scratch bytes that let this layer's kernel widen all its weights at once (qnn.h), or 0
        where it has no use for any at this batch (depthwise and pooling kernels have none)."""
        if self.op not in ("conv2d", "fully_connected"):
            return 0
        h, w, _ = self.record.shape
        return kernels.SCRATCH_PER_WEIGHT * len(self.weight) if batch * h * w >= WIDEN_MIN_PIXELS else 0


class Convolution(Layer):
    """conv2d and depthwise_conv2d."""

    def __init__(self, model, index, record, description):
        Layer.__init__(self, model, index, record, description)
        r = record
        self.params = array("i", (1,) + self.in_shape + r.shape + r.kernel + r.stride + r.pad
                            + (self.in_zero_point, r.zero_point, r.act_min, r.act_max))


class FullyConnected(Layer):
    def __init__(self, model, index, record, description):
        Layer.__init__(self, model, index, record, description)
        h, w, c = self.in_shape
        r = record
        self.params = array("i", (1, h * w * c, r.shape[2], self.in_zero_point, r.zero_point, r.act_min, r.act_max))


class Pool(Layer):
    """max_pool and avg_pool."""

    def __init__(self, model, index, record, description):
        Layer.__init__(self, model, index, record, description)
        r = record
        self.params = array("i", (1,) + self.in_shape + r.shape[:2] + r.kernel + r.stride + r.pad
                            + (r.act_min, r.act_max))

    def run(self):
        acts = self.model.acts
        self.kernel(acts[self.output], acts[self.inputs[0]], self.params)


class GlobalAvgPool(Layer):
    def __init__(self, model, index, record, description):
        Layer.__init__(self, model, index, record, description)
        self.params = array("i", (1,) + self.in_shape + (record.act_min, record.act_max))

    def run(self):
        acts = self.model.acts
        self.kernel(acts[self.output], acts[self.inputs[0]], self.params)


class Add(Layer):
    def __init__(self, model, index, record, description):
        Layer.__init__(self, model, index, record, description)
        r = record
        a_mult, a_shift, b_mult, b_shift, left_shift, out_mult, out_shift = r.tensors[0]
        h, w, c = r.shape
        self.elements = h * w * c
        self.params = array("i", (self.elements, self.in_zero_point, a_mult, a_shift,
                                  description.zero_point(r.inputs[1]), b_mult, b_shift, left_shift,
                                  r.zero_point, out_mult, out_shift, r.act_min, r.act_max))

    def set_batch(self, batch):
        self.params[0] = batch * self.elements

    def scratch_bytes(self, batch):
        """Scratch bytes for add's tables of its inputs' rescaling (qnn.h: from the scratch's first
        word boundary), where they pay."""
        return kernels.ADD_SCRATCH + 3 if kernels.ADD_SCRATCH and batch * self.elements >= ADD_TABLES_MIN_ELEMENTS else 0

    def run(self):
        acts = self.model.acts
        if self.scratch is None:
            self.kernel(acts[self.output], acts[self.inputs[0]], acts[self.inputs[1]], self.params)
        else:
            self.kernel(acts[self.output], acts[self.inputs[0]], acts[self.inputs[1]], self.params, self.scratch)


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
        self.layers = [LAYERS[r.op](self, i, r, description) for i, r in enumerate(description.layers)]
        self.input_size = elements(description.input_shape)
        self.classes = elements(description.layers[-1].shape)
        self.batch = 0
        self.arena, self.arena_given, self.planned = None, False, 0
        self.arena_view = self.scratch = self.planned_scratch = None

    def plan(self, batch=1):
        """Plans inference alone for `batch` samples (mcutrain.plan), then takes the kernels'
        scratch from what the heap has left."""
        from mcutrain.plan import Plan

        self.use(Plan(self, batch))
        self.take_scratch()

    def take_scratch(self, keep=0):
        """Gives the layers whose kernels gain from one a scratch (qnn.h: the Cortex-M0 and M4
        widen weights in it, add tabulates its inputs there): as many bytes as the largest use, or half
        the free heap less the `keep` bytes the caller still needs, the fewer, halved until a free
        block holds it. Taken after everything else a plan needs and dropped before a plan is
        placed, it never costs a plan its room; it only speeds the kernels up. Where the plan
        holds a scratch in the arena (mcutrain.plan: add's tables), or beside it in a block of its
        own (mcutrain.trainer's _scratch_apart), only a larger block replaces it."""
        self._drop_heap_scratch()
        uses = [layer.scratch_bytes(self.batch) for layer in self.layers]
        wanted = max(uses)
        if wanted and hasattr(gc, "mem_free"):
            gc.collect()
            wanted = min(wanted, (gc.mem_free() - keep) // 2)
        planned = self.planned_scratch
        least = SCRATCH_MIN if planned is None else len(planned) + 1
        # add's tables, 4 KB past a word boundary (or its int32 ones, 2 KB), are worth more than
        # any conv2d's widening: a smaller scratch is tried only once they fail.
        tables = kernels.ADD_SCRATCH + 3 if kernels.ADD_SCRATCH + 3 in uses else SCRATCH_MIN
        # The caller's bytes are taken aside first, so that the scratch leaves them a hole. Where
        # the free bytes are in pieces, a smaller scratch: conv2d and fully_connected then widen
        # fewer channels at a time.
        try:
            aside = bytearray(keep)
        except MemoryError:
            return
        while self.scratch is None and wanted >= least:
            try:
                self.scratch = bytearray(wanted)
            except MemoryError:
                smaller = [size for size in (tables, tables // 2 + 2) if wanted > size > wanted // 2]
                wanted = smaller[0] if smaller else wanted // 2
        aside = None
        scratch = planned if self.scratch is None else self.scratch
        if scratch is None:
            return
        for layer, use in zip(self.layers, uses):
            if use:
                layer.scratch = scratch

    def drop_scratch(self):
        """Gives the kernels' scratch back to the heap; a planned one in the arena stays there,
        unused."""
        self._drop_heap_scratch()
        if isinstance(self.planned_scratch, bytearray):  # a block of its own, not a view of the arena
            self.planned_scratch = None

    def _drop_heap_scratch(self):
        self.scratch = None
        for layer in self.layers:
            layer.scratch = None

    def use(self, plan, arena=None):
        """Places a plan in one arena: `arena` if given (a bytearray the caller keeps, used by
        every later plan), else the current one if large enough, else a new one. Activations are
        then views of it, and plan buffers views by self.view. The kernels' scratch goes first:
        take_scratch gives it again from what is left."""
        self.drop_scratch()
        size = plan.place()
        if arena is not None:
            self.arena, self.arena_given = arena, True
        if self.arena_given and len(self.arena) < size:
            raise ModelError("the plan needs an arena of %d bytes; the one given has %d" % (size, len(self.arena)))
        if not self.holds(size):
            self.reserve(size)
        self.planned = size
        # What view() needs of the plan; the rest of it is dropped.
        self.offsets, self.sizes, self.int32s = plan.offsets, plan.sizes, plan.int32s
        self.arena_view = memoryview(self.arena)
        # One view per span of the arena, shared by the stages that see it there. Made with no
        # garbage between them (no key objects, no copies), so that none leaves a hole behind.
        stages = plan.stage_tensors()
        self.stage_acts = [[None] * len(tensors) for tensors in stages]
        for s in range(len(stages)):
            tensors = stages[s]
            for t in range(1, len(tensors)):
                self.stage_acts[s][t] = self._shared_view(stages, s, t)
        self.acts = self.stage_acts[0]
        self.starts = plan.starts
        placed = plan.scratch >= 0 and plan.offsets[plan.scratch] >= 0
        self.planned_scratch = self.view(plan.scratch) if placed else None
        self.set_batch(plan.batch)
        self.predictions = array("i", bytes(4 * plan.batch))
        self.argmax_params = array("i", (plan.batch, self.classes))

    def _shared_view(self, stages, s, t):
        """The view of tensor t's buffer in stage s: an earlier stage's or tensor's view of the
        same span of the arena, else a new one."""
        b = stages[s][t]
        offset, size = self.offsets[b], self.sizes[b]
        for s2 in range(s + 1):
            tensors = stages[s2]
            for t2 in range(1, len(tensors) if s2 < s else t):
                other = tensors[t2]
                if self.offsets[other] == offset and self.sizes[other] == size:
                    return self.stage_acts[s2][t2]
        return self.view(b)

    def holds(self, size, arena=None):
        """Whether use() needs no new arena for a plan of `size` bytes: one is given (use() checks
        its size), or the current one is large enough."""
        return arena is not None or self.arena_given or self.arena is not None and len(self.arena) >= size

    def reserve(self, size):
        """A new arena of `size` bytes in place of the current one, whose views must be dropped
        first (the plan's, and a trainer's) for the collector to take it back: the arena is one
        block, and on a board the old and the new one may not fit together."""
        self.release()
        self.arena = bytearray(size)

    def release(self):
        """Gives the arena back to the heap, unless the caller gave it; its views must be dropped.
        The kernels' scratch goes too."""
        self.drop_scratch()
        if not self.arena_given:
            self.acts = self.stage_acts = self.arena = self.arena_view = self.planned_scratch = None
            gc.collect()

    def set_batch(self, batch):
        """Gives every layer's parameter block this batch: a plan's, or (before placing it) the
        one a trainer builds its parameter blocks for."""
        for layer in self.layers:
            layer.set_batch(batch)
        self.batch = batch

    def view(self, buf):
        """Planned buffer `buf` (an index the plan gave) in the arena: a memoryview of its bytes,
        or of its int32 elements."""
        offset = self.offsets[buf]
        view = self.arena_view[offset:offset + self.sizes[buf]]
        return kernels.int32_view(view) if self.int32s[buf] else view

    def stage(self, number):
        """Runs what follows on the tensors as the plan's stage `number` placed them."""
        self.acts = self.stage_acts[number]

    def activation(self, t, stage=None):
        """Tensor t's buffer in the arena, in the current stage or the given one (t = 0: the
        last input given to infer)."""
        return (self.acts if stage is None else self.stage_acts[stage])[t]

    def forward(self, start=0, stop=None):
        """Runs layers start..stop-1 (to the last by default) on the tensors in the arena and
        returns the last one made; allocates nothing. A pass from `start` must be planned."""
        if not self.batch:
            raise ModelError("plan() the model before running it")
        if start not in self.starts:
            raise ModelError("cannot start at layer %d: no planned pass starts there" % start)
        stop = len(self.layers) if stop is None else stop
        for i in range(start, stop):
            self.layers[i].run()
        return self.acts[stop]

    def infer(self, x):
        """Logits (int8, batch x classes, in the arena) of x (int8, batch x input, NHWC)."""
        if not self.batch:
            raise ModelError("plan() the model before running it")
        for acts in self.stage_acts:
            acts[0] = x
        self.acts = self.stage_acts[0]
        return self.forward(0)

    def evaluate(self, images, labels, hits=None):
        """How many images (int8 inputs back to back) are classified as their labels (one per image).
        `hits`, one byte per image if given, gets 1 where an image is classified right, else 0."""
        count, size = len(labels), self.input_size
        if len(images) != count * size:
            raise ModelError("%d bytes of images for %d labels of %d-byte images" % (len(images), count, size))
        if hits is not None and len(hits) != count:
            raise ModelError("%d hits for %d labels" % (len(hits), count))
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
                hit = 1 if self.predictions[b] == labels[start + b] else 0
                correct += hit
                if hits is not None:
                    hits[start + b] = hit
        return correct

    def writable(self, layers):
        """Copies the weights of these layers to RAM where they are read in place from flash: a
        trainer changes them. Once copied they stay in RAM, with whatever training did to them."""
        for layer in layers:
            if in_flash(layer.weight):
                layer.weight = layer.record.tensors[0] = bytearray(layer.weight)

    def memory(self):
        """Bytes held in RAM: weights (the tensors not read in place), params (parameter blocks),
        arena (activations and a trainer's planned buffers), scratch (the kernels'), their total;
        planned, the bytes of the arena the plan uses; and flash, the weights read in place from
        flash."""
        tensors = [t for layer in self.description.layers for t in layer.tensors]
        flash = sum(nbytes(t) for t in tensors if in_flash(t))
        weights = sum(nbytes(t) for t in tensors) - flash
        params = sum(nbytes(layer.params) for layer in self.layers)
        arena = len(self.arena) if self.arena is not None else 0
        scratch = len(self.scratch) if self.scratch is not None else 0
        return {"weights": weights, "flash": flash, "params": params, "arena": arena, "planned": self.planned,
                "scratch": scratch, "total": weights + params + arena + scratch}

