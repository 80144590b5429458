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
live while it runs. Offsets are chosen greedily, largest
buffer first, each at the lowest address clear of the placed buffers it overlaps in time, as
TFLite Micro's greedy planner does. A plan changes where bytes live, never the arithmetic.
"""

from mcutrain.model_file import ModelError

ALIGN = 8  # int32 views need 4 on a Cortex-M0; 8 keeps every offset a multiple of both


class Buffer:
    def __init__(self, size, lives, int32=False):
        self.size, self.lives, self.int32, self.offset = size, lives, int32, 0


class Plan:
    def __init__(self, model, batch):
        if batch < 1:
            raise ModelError("batch must be at least 1, got %d" % batch)
        self.model, self.batch = model, batch
        description = model.description
        self.last = len(model.layers)
        # Tensor 0 is the caller's input, outside the arena.
        self.sizes = [0] + [batch * _elements(description.shape(t)) for t in range(1, self.last + 1)]
        self.tensors = [None] * (self.last + 1)  # each tensor's latest buffer
        self.made_in = [-1] * (self.last + 1)  # the stage that made it
        self.read_in = [-1] * (self.last + 1)  # the last stage that read it
        self.stages = []  # for each finished stage, the buffer of each tensor as it saw them
        self.stage = 0
        self.buffers = []
        self.starts = set()  # the layers a planned pass starts at: what forward(start) may do
        self.time = 0
        self.forward(0)

    def begin_stage(self):
        """Starts the next stage of the step; returns its number, for model.stage."""
        self.stages.append(list(self.tensors))
        self.stage += 1
        return self.stage

    def stage_tensors(self):
        """[stage][tensor] -> the buffer the stage sees the tensor in (None for the input)."""
        return self.stages + [list(self.tensors)]

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
        for i in range(start, stop):
            out = i + 1
            end = last_read.get(out, i)
            if out == stop == self.last:
                end = stop  # the loss reads the logits after the last layer
            self._made(out).lives.append([at + i, at + end])
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
        the last time planned so far."""
        return self._buffer(n, since, False)

    def int32(self, n, since):
        """A buffer of n int32 elements live from time `since` to the last time planned so far."""
        return self._buffer(4 * n, since, True)

    def _buffer(self, size, since, int32):
        # plan.time is the next free time: what is planned so far ends just before it.
        buf = Buffer(size, [[since, max(since, self.time - 1)]], int32)
        self.buffers.append(buf)
        return buf

    def _made(self, t):
        """The buffer a pass makes tensor t in: a new one unless this stage made t already."""
        if self.made_in[t] != self.stage:
            if self.read_in[t] == self.stage:
                # Its views would be the new buffer's for the whole stage, reads before included.
                raise ModelError("a stage cannot read tensor %d and then make it again" % t)
            self.tensors[t] = Buffer(self.sizes[t], [])
            self.made_in[t] = self.stage
            self.buffers.append(self.tensors[t])
        return self.tensors[t]

    def _extend(self, t, until):
        if self.tensors[t] is None:
            raise ModelError("tensor %d is read before any planned pass makes it" % t)
        self.read_in[t] = self.stage
        lives = self.tensors[t].lives
        if lives[-1][1] < until:
            lives[-1][1] = until

    def place(self):
        """Gives every buffer its offset; returns the arena's size in bytes."""
        todo = sorted(self.buffers, key=lambda b: -b.size)
        placed = []
        end = 0
        for buf in todo:
            taken = sorted((p.offset, p.offset + p.size) for p in placed if _overlap(p.lives, buf.lives))
            offset = 0
            for low, high in taken:
                if offset + buf.size <= low:
                    break
                if high > offset:
                    offset = -(-high // ALIGN) * ALIGN
            buf.offset = offset
            placed.append(buf)
            end = max(end, offset + buf.size)
        return -(-end // ALIGN) * ALIGN


def _overlap(a, b):
    for a0, a1 in a:
        for b0, b1 in b:
            if a0 <= b1 and b0 <= a1:
                return True
    return False


def _elements(shape):
    h, w, c = shape
    return h * w * c
