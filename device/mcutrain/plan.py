"""One arena for a model and its trainer: every buffer placed by offset, by lifetime.

    plan = Plan(model, batch)        # stage 0, the forward pass: layer i runs at time i
    plan.begin_stage()               # a trainer's stage of the step, e.g. one layer's queries
    plan.forward(4)                  # a query re-runs layers 4.. (tensor 4 is kept for it)
    gradient = plan.int32(n, since)  # a stage's buffer, live from time `since` to now
    plan.read([3, 4])                # tensors the stage reads last, kept until now
    model.use(plan)                  # places everything in one bytearray, then views of it
    model.stage(1)                   # the tensors as stage 1 sees them

A buffer lives over a list of time intervals: a stage's buffer over the stage, a tensor once per
pass that makes it. A tensor a stage makes again is a new buffer, placed on its own: the stage
sees it there (model.stage), so a kept tensor of one stage does not push every later stage's
tensors above it. A tensor a stage reads without making it stays where it was made. One query
stands for all of a step's queries, since each repeats the same pattern. Two buffers share bytes
only where their lives do not overlap; a layer's output never shares with its inputs, since both
live while it runs. Offsets are chosen greedily, largest buffer first, each at the lowest address
clear of the placed buffers it overlaps in time, as TFLite Micro's greedy planner does. A plan
changes where bytes live, never the arithmetic.

The kernels' scratch (Model.take_scratch), where a model has an add whose tables pay, is a
buffer of their size live from the first to the last layer of a pass whose kernel uses one,
placed after everything else: in a gap, it costs nothing; past the arena's end, it grows the
arena only where the caller says there is room for that and as much again (what take_scratch
would have left the heap), and otherwise it is not placed. In the arena, no fragment of the heap
can refuse add its tables. Where the heap has no block for the arena it grew, the caller may take
the scratch apart (scratch_apart): two blocks fit where one may not.

A plan is built on the board, a few times per trainer, so it is kept in flat int arrays: a buffer
is an index, its lives (buffer, start, end) triples in one array. A plan of `small`'s 13 stages
holds a few KB, where an object per buffer and a list per life took tens.
"""

import gc
from array import array

from mcutrain.model_file import ModelError

ALIGN = 8  # int32 views need 4 on a Cortex-M0; 8 keeps every offset a multiple of both


class Plan:
    def __init__(self, model, batch):
        if batch < 1:
            raise ModelError("batch must be at least 1, got %d" % batch)
        self.model, self.batch = model, batch
        description = model.description
        self.last = last = len(model.layers)
        self.sizes = array("i")  # bytes of each buffer
        self.int32s = bytearray()  # 1 where a buffer is viewed as int32
        self.lives = array("i")  # (buffer, start, end) triples
        self.last_life = array("i")  # each buffer's latest life, as its index in `lives`
        # Tensor 0 is the caller's input, outside the arena.
        self.tensor_sizes = [0] + [batch * _elements(description.shape(t)) for t in range(1, last + 1)]
        self.tensors = array("i", [-1] * (last + 1))  # each tensor's latest buffer
        self.made_in = array("i", [-1] * (last + 1))  # the stage that made it
        self.read_in = array("i", [-1] * (last + 1))  # the last stage that read it
        self.stages = []  # for each finished stage, the buffer of each tensor as it saw them
        self.stage = 0
        self.starts = set()  # the layers a planned pass starts at: what forward(start) may do
        self.time = 0
        self.offsets = None
        self.replaying = False
        # The kernels' scratch: add's tables' bytes, made by the first pass through a layer with a use.
        self.scratch_size = max([layer.scratch_bytes(batch) for layer in model.layers if layer.op == "add"] + [0])
        self.scratch = -1
        self.scratch_grew = False  # whether place() put it past the other buffers' top
        self.forward(0)

    def replay(self):
        """Walks the plan again from its start, for a trainer's objects made anew after the arena
        was taken: the same calls in the same order get the same buffers, and nothing is
        allocated for them, where planning anew would need room beside the arena."""
        self.replaying, self.replayed = True, 0
        self.time = self.stage = 0
        self.scratch = -1
        for t in range(len(self.tensors)):
            self.tensors[t] = self.made_in[t] = self.read_in[t] = -1
        self.forward(0)

    def compact(self):
        """Copies the plan's arrays, exactly sized, into the lowest free holes after a collection,
        out of the free block an arena taken next needs."""
        gc.collect()
        self.sizes, self.lives, self.last_life = array("i", self.sizes), array("i", self.lives), array("i", self.last_life)
        self.int32s, self.offsets = bytearray(self.int32s), array("i", self.offsets)
        self.tensors, self.made_in, self.read_in = array("i", self.tensors), array("i", self.made_in), array("i", self.read_in)
        self.stages = [array("i", tensors) for tensors in self.stages]
        gc.collect()

    def begin_stage(self):
        """Starts the next stage of the step; returns its number, for model.stage."""
        if not self.replaying:
            self.stages.append(array("i", self.tensors))
        self.stage += 1
        return self.stage

    def stage_tensors(self):
        """[stage][tensor] -> the buffer the stage sees the tensor in (-1 for the input)."""
        if self.replaying and self.replayed != len(self.sizes):
            raise ModelError("the plan replayed %d of the %d buffers placed" % (self.replayed, len(self.sizes)))
        return self.stages + [array("i", self.tensors)]

    def footprint(self):
        """Bytes the plan's arrays hold: what making it again takes, beside the arena."""
        return 4 * (len(self.lives) + 2 * len(self.sizes) + (len(self.stages) + 4) * len(self.tensors)) \
            + len(self.int32s)

    def forward(self, start, stop=None):
        """A pass over layers start..stop-1 from now on; the tensors it reads but does not make
        (its start tensor, a residual skip) stay intact from where they were made to its end.
        A pass to the end is followed by the loss, which reads the logits."""
        stop = self.last if stop is None else stop
        if not 0 <= start < stop <= self.last:
            raise ModelError("cannot plan layers %d..%d of %d" % (start, stop - 1, self.last))
        layers = self.model.layers
        at = self.time - start  # layer i runs at time at + i
        last_read = {}
        for i in range(start, stop):
            for t in layers[i].inputs:
                last_read[t] = i
        for t in last_read:
            if 0 < t <= start:
                self._extend(t, at + stop)  # a query's pass repeats: the next one reads them again
        first = last = -1  # the pass's first and last layer that takes the kernels' scratch
        for i in range(start, stop):
            out = i + 1
            end = last_read.get(out, i)
            if out == stop == self.last:
                end = stop  # the loss reads the logits after the last layer
            if self.scratch_size and layers[i].scratch_bytes(self.batch):
                if self.scratch < 0:
                    self.scratch = self._new(self.scratch_size, 0)
                first, last = i if first < 0 else first, i
            self._live(self._made(out), at + i, at + end)
        if first >= 0:
            self._live(self.scratch, at + first, at + last)  # one life a pass: a plan's arrays are heap
        self.time = at + stop + 1
        self.starts.add(start)

    def read(self, tensors):
        """These tensors are read now: each stays intact from the pass that made it last."""
        for t in tensors:
            if not 0 <= t <= self.last:
                raise ModelError("cannot keep tensor %d: tensors are 0..%d" % (t, self.last))
            if t:
                self._extend(t, self.time)
        self.time += 1

    def bytes(self, n, since):
        """A buffer of n int8 elements live from time `since` (a `plan.time` taken earlier) to
        the last time planned so far; returns its index, for model.view."""
        return self._buffer(n, since, 0)

    def int32(self, n, since):
        """A buffer of n int32 elements live from time `since` to the last time planned so far."""
        return self._buffer(4 * n, since, 1)

    def _buffer(self, size, since, int32):
        b = self._new(size, int32)
        # plan.time is the next free time: what is planned so far ends just before it.
        self._live(b, since, max(since, self.time - 1))
        return b

    def _new(self, size, int32):
        if self.replaying:
            b = self.replayed
            if b >= len(self.sizes) or self.sizes[b] != size:
                raise ModelError("the plan replayed differs from the plan placed, at buffer %d" % b)
            self.replayed = b + 1
            return b
        self.sizes.append(size)
        self.int32s.append(int32)
        self.last_life.append(-1)
        return len(self.sizes) - 1

    def _live(self, b, start, end):
        if self.replaying:
            return
        self.last_life[b] = len(self.lives)
        self.lives.append(b)
        self.lives.append(start)
        self.lives.append(end)

    def _made(self, t):
        """The buffer a pass makes tensor t in: a new one unless this stage made t already."""
        if self.made_in[t] != self.stage:
            if self.read_in[t] == self.stage:
                # Its views would be the new buffer's for the whole stage, reads before included.
                raise ModelError("a stage cannot read tensor %d and then make it again" % t)
            self.tensors[t] = self._new(self.tensor_sizes[t], 0)
            self.made_in[t] = self.stage
        return self.tensors[t]

    def _extend(self, t, until):
        b = self.tensors[t]
        if b < 0:
            raise ModelError("tensor %d is read before any planned pass makes it" % t)
        self.read_in[t] = self.stage
        if self.replaying:
            return
        end = self.last_life[b] + 2
        if self.lives[end] < until:
            self.lives[end] = until

    def place(self, room=0):
        """Gives every buffer its offset (self.offsets), unless a caller gave them from an
        identical plan placed before; returns the arena's size in bytes. `room`: the bytes the
        arena may have (None: any), for the kernels' scratch where it finds no gap; its offset is
        -1 where it is not placed."""
        sizes, lives = self.sizes, self.lives
        n = len(sizes)
        if self.offsets is not None:
            end = 0
            for b in range(n):
                if self.offsets[b] >= 0:
                    end = max(end, self.offsets[b] + sizes[b])
            return -(-end // ALIGN) * ALIGN
        # Each buffer's lives as a chain through the triples: first[b], then next_life[i]. Placing
        # takes only these few int arrays, of sizes the plan fixes: its heap is the same on every
        # board and under any fragmentation, which makes a fit at a heap's edge repeatable.
        first = _filled(n, -1)
        next_life = _filled(len(lives) // 3, -1)
        for i in range(len(next_life) - 1, -1, -1):
            b = lives[3 * i]
            next_life[i] = first[b]
            first[b] = i
        offsets = self.offsets = _filled(n, 0)
        # Largest first, ties in the order they were planned (an insertion sort, stable on every
        # port); the kernels' scratch last of all.
        order = _filled(n, 0)
        for b in range(n):
            k = b if self.scratch < 0 or b < self.scratch else b - 1
            if b == self.scratch:
                order[n - 1] = b
                continue
            while k and sizes[order[k - 1]] < sizes[b]:
                order[k] = order[k - 1]
                k -= 1
            order[k] = b
        taken = _filled(n, 0)  # the placed buffers that live at the same time as the one being placed
        end = 0
        for i in range(n):
            b = order[i]
            count = 0
            for j in range(i):
                if _overlap(lives, first, next_life, order[j], b):
                    taken[count] = order[j]
                    count += 1
            offset = _lowest_clear(offsets, sizes, taken, count, sizes[b])
            if b == self.scratch and offset + sizes[b] > end:
                if room is not None and offset + 2 * sizes[b] > room:
                    offset = -1  # no room for it in the arena: take_scratch finds one in the heap
                else:
                    self.scratch_grew = True
            if offset >= 0:
                end = max(end, offset + sizes[b])
            offsets[b] = offset
        return -(-end // ALIGN) * ALIGN

    def scratch_apart(self):
        """Takes the kernels' scratch out of the arena that place() grew for it, for a block of
        its own beside the arena; returns the arena's bytes without it."""
        self.offsets[self.scratch] = -1
        self.scratch_grew = False
        return self.place()


def _filled(n, value):
    a = array("i", bytes(4 * n))
    if value:
        for i in range(n):
            a[i] = value
    return a


def _lowest_clear(offsets, sizes, taken, count, size):
    """The lowest aligned offset where `size` bytes meet none of the first `count` buffers in
    `taken`: 0, or just above one of them."""
    best = -1
    for k in range(-1, count):
        start = 0 if k < 0 else -(-(offsets[taken[k]] + sizes[taken[k]]) // ALIGN) * ALIGN
        if 0 <= best <= start:
            continue
        for m in range(count):
            low = offsets[taken[m]]
            if low < start + size and start < low + sizes[taken[m]]:
                break
        else:
            best = start
    return best


def _overlap(lives, first, next_life, a, b):
    i = first[a]
    while i >= 0:
        a0, a1 = lives[3 * i + 1], lives[3 * i + 2]
        j = first[b]
        while j >= 0:
            if a0 <= lives[3 * j + 2] and lives[3 * j + 1] <= a1:
                return True
            j = next_life[j]
        i = next_life[i]
    return False


def _elements(shape):
    h, w, c = shape
    return h * w * c
