"""The board's side of a training run over the serial link (docs/protocol.md).

    import mcutrain.serve
    mcutrain.serve.main("tiny.mcut", "run.ckpt", 40000)  # until the host says BYE (or ABORT); then the REPL is back

The host configures a Trainer (CONFIG), streams samples (SAMPLE: training or evaluation, with a
label and an id), tunes settings between steps (CONFIG again), asks for checkpoints and stats.
Samples fill a batch buffer planned once; a full training batch is one `Trainer.step`, a full
evaluation batch one `Trainer.evaluate`. Every applied training sample's id enters a CRC-32, kept
in checkpoints with the weights, so host and board can prove each sample was applied once.
"""

import gc
import sys
from array import array

import mcutrain
from mcutrain import checkpoint
from mcutrain import link as protocol
from mcutrain import model as model_module
from mcutrain.backend import kernels
from mcutrain.trainer import SETTINGS, WORD, Trainer

# Sample payload: id u32, flags u8, label u8, then the image.
SAMPLE_HEADER = 6
EVAL, GUARD = 1, 2
# What a SAMPLE ACK reports happened.
BUFFERED, STEPPED, EVALUATED, GUARDED = 0, 1, 2, 3
# Settings of the run, not of the trainer: a guard of `guard` samples (mcutrain.guard) checks
# every `guard_every` steps.
RUN_SETTINGS = ("checkpoint_every", "resume", "guard", "guard_every")
KNOWN = SETTINGS + ("method", "seed") + RUN_SETTINGS
# The settings a trainer is built with, in the order a host sends them: a run's first CONFIG
# carries these alone (the rest follows in a second), so deploy's check and every run of a plan
# send the same text and make the same allocations.
BUILT_WITH = ("method", "mode", "batch", "queries", "layers", "fqt_layers", "plan", "standardize", "seed")
FLOATS = ("lr", "zo_lr", "lmin", "lmax")
# Heap a new run's trainer must leave free: what the run still allocates, briefly, after CONFIG
# (a checkpoint's file and header, the stats report, a line of settings), on a 32-bit board and
# twice that on a 64-bit one. A trainer that leaves less is refused at CONFIG, where deploy sees
# it, rather than trained until its first checkpoint fails.
RUN_RESERVE = 512 * WORD
# Heap held aside while a trainer is built, given back after. A build must fit with this to
# spare, so a run whose heap differs a little from deploy's check (a real board's REPL history,
# a run's seed) still builds the plan the check built.
BUILD_MARGIN = 512 * WORD
WORDS = ("method", "mode", "schedule_name")


def parse_settings(text):
    """'lr=0.01;layers=4/6;mode=np' -> {'lr': 0.01, 'layers': [4, 6], 'mode': 'np'}; spaces around
    keys and values do not matter. The one parser of settings: the board's, and the host's for
    flags, --config files and lines typed during a run."""
    settings = {}
    for item in text.split(";"):
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not key and not sep:
            continue
        if not sep:
            raise ValueError("settings are key=value, got %r" % item.strip())
        if key not in KNOWN:
            raise ValueError("unknown setting %r; the settings are %s" % (key, ", ".join(KNOWN)))
        try:
            if key in WORDS:
                settings[key] = value
            elif key == "layers":
                settings[key] = None if value == "all" else [int(i) for i in value.split("/")]
            elif key == "plan":
                settings[key] = value if value in ("fast", "lean") else int(value)
            elif key in FLOATS:
                settings[key] = float(value)
            else:
                settings[key] = int(value)
        except ValueError:
            raise ValueError("%s=%s: %s takes %s" % (key, value, key, "a number" if key in FLOATS else
                                                      "layer indices such as 4/6, or all" if key == "layers"
                                                      else "fast, lean or a number of bytes" if key == "plan"
                                                      else "a whole number"))
    return settings


class Server:
    def __init__(self, model, link, checkpoint, arena=None):
        self.model, self.link, self.checkpoint = model, link, checkpoint
        self.arena = arena  # the run's arena, given to its trainer
        self.trainer = None
        self.checkpoint_every = 0
        self.guard = None
        self.guard_every = 0
        self.checksum = array("i", [0])  # CRC-32 of the ids of applied training samples
        self.filled = 0
        self.filling = 0  # flags of the samples in the batch buffer
        self.loss = 0
        self.copy_params = array("i", [0, 0, 0])

    def plan(self, batch):
        size = self.model.input_size
        self.images = bytearray(batch * size)
        self.labels = bytearray(batch)
        self.ids = array("i", [0] * batch)

    def hello(self):
        gc.collect()
        t = self.trainer
        implementation = sys.implementation
        mpy = getattr(implementation, "_mpy", 0)
        fields = (
            ("version", protocol.VERSION), ("package", mcutrain.__version__),
            ("board", getattr(implementation, "_machine", sys.platform)), ("arch", mpy >> 10),
            ("abi", "%d.%d" % (mpy & 0xFF, (mpy >> 8) & 3)), ("kernels", kernels.__name__),
            ("heap_free", gc.mem_free() if hasattr(gc, "mem_free") else -1),
            ("frame_max", len(self.link.body)),
            ("model", "".join("%02x" % b for b in reversed(self.model.description.crc))),
            ("input", self.model.input_size),
            ("steps", t.steps if t else 0), ("samples", t.samples if t else 0),
            ("checksum", "%08x" % (self.checksum[0] & 0xFFFFFFFF)))
        return ";".join("%s=%s" % field for field in fields)

    def configure(self, text):
        settings = parse_settings(text)
        resume = settings.pop("resume", 0)
        if "checkpoint_every" in settings:
            self.checkpoint_every = settings.pop("checkpoint_every")
        if "guard_every" in settings:
            self.guard_every = settings.pop("guard_every")
        guard = settings.pop("guard", None)
        created = self.trainer is None
        if created:
            # The batch buffer before the trainer: after its many small objects, at the edge of
            # the heap, no hole might hold it.
            self.plan(settings.get("batch", 1))
            gc.collect()
            margin = bytearray(BUILD_MARGIN)
            try:
                self.trainer = Trainer(self.model, arena=self.arena, **settings)
            except Exception:
                self.images = self.labels = self.ids = None
                raise
            self.arena = None  # the model keeps it for every later plan
            margin = None
            self.check_reserve()
        else:
            # A host reconnecting sends every setting again: only changes count.
            for key in list(settings):
                if getattr(self.trainer, key, None) == settings[key]:
                    del settings[key]
            if "method" in settings:
                raise ValueError("the method is set once per run")
            if settings:
                self.trainer.set(**settings)
            if "batch" in settings:
                self.plan(self.trainer.batch)
                self.filled = 0
        if self.checkpoint is not None:
            if resume:
                self.trainer.resume(self.checkpoint, (self.checksum,))
            elif created:
                checkpoint.remove(self.checkpoint)  # a new run: an older run's steps must not win
        elif resume:
            raise ValueError("resume needs a checkpoint path on the board")
        if guard is not None and guard != (self.guard.count if self.guard else 0):
            from mcutrain.guard import for_server  # loaded on use: on a board, code is RAM

            self.guard = None  # an older guard's buffers go back first
            self.guard = for_server(self, guard)
        return self.hello()

    def check_reserve(self):
        """MemoryError, and no trainer, if the new trainer leaves less than RUN_RESERVE free."""
        if not hasattr(gc, "mem_free"):
            return
        gc.collect()
        free = gc.mem_free()
        if free < RUN_RESERVE:
            self.trainer = self.images = self.labels = self.ids = None
            raise MemoryError("the trainer leaves %d bytes of heap free; a run needs %d more for its checkpoints "
                              "and reports" % (free, RUN_RESERVE))

    def sample(self):
        """Puts the sample into the batch buffer; a full buffer is stepped or evaluated."""
        link, t = self.link, self.trainer
        if t is None:
            raise ValueError("CONFIG first: no trainer yet")
        size = self.model.input_size
        if link.length != SAMPLE_HEADER + size:
            raise ValueError("a sample of %d bytes; the model takes %d" % (link.length - SAMPLE_HEADER, size))
        flags = link.payload_byte(4)
        if self.filled and flags != self.filling:
            raise ValueError("training and evaluation samples mixed in one batch")
        self.filling = flags
        b = self.filled
        self.ids[b] = link.payload_u32(0)
        self.labels[b] = link.payload_byte(5)
        params = self.copy_params
        params[0] = b * size
        params[1] = protocol.HEADER + SAMPLE_HEADER
        params[2] = size
        kernels.copy(self.images, link.frame, params)
        self.filled = b + 1
        correct = 0
        event = BUFFERED
        if self.filled == t.batch:
            self.filled = 0
            if flags & EVAL:
                correct = t.evaluate(self.images, self.labels)
                event = EVALUATED
            elif flags & GUARD:
                if self.guard is None:
                    raise ValueError("guard samples, but no guard: CONFIG guard=N first")
                self.guard.take(self.images, self.labels)
                event = GUARDED
            else:
                self.loss = t.step(self.images, self.labels)
                kernels.crc32(self.checksum, self.ids)
                event = STEPPED
                if self.checkpoint_every and t.steps % self.checkpoint_every == 0:
                    t.save(self.checkpoint, (self.checksum,))
                if self.guard is not None and self.guard_every and t.steps % self.guard_every == 0:
                    self.guard.check()
        link.answer_sample(event, t.steps, t.samples, self.checksum, self.loss, correct)

    def stats(self):
        t = self.trainer
        if t is None:
            return self.hello()
        report = t.stats()
        report.update(t.memory())
        report["dropped"] = self.link.dropped
        return ";".join("%s=%s" % (k, report[k]) for k in sorted(report))

    def run(self):
        link = self.link
        while True:
            kind = link.receive()
            if kind == protocol.SAMPLE:
                try:
                    self.sample()
                except (ValueError, OSError, MemoryError) as e:
                    self.filled = 0
                    link.answer_text("%s: %s" % (type(e).__name__, e), protocol.FAILED)
                continue
            try:
                if kind == protocol.HELLO:
                    if link.length < 5 or link.payload_byte(0) != protocol.VERSION:
                        raise ValueError("protocol version %d; this board speaks %d: deploy the host's version"
                                         % (link.payload_byte(0), protocol.VERSION))
                    answer = self.hello()
                elif kind == protocol.CONFIG:
                    answer = self.configure(bytes(link.frame[protocol.HEADER:protocol.HEADER + link.length]).decode())
                elif kind == protocol.SAVE:
                    if self.trainer is None or self.checkpoint is None:
                        raise ValueError("nothing to save: no trainer or no checkpoint path")
                    self.trainer.save(self.checkpoint, (self.checksum,))
                    answer = self.hello()
                elif kind == protocol.STATS:
                    answer = self.stats()
                elif kind == protocol.BEST:
                    if self.guard is None:
                        raise ValueError("no guard: CONFIG guard=N and its samples first")
                    answer = self.guard.keep_best(self.checkpoint, (self.checksum,))
                elif kind == protocol.BYE or kind == protocol.ABORT:
                    link.answer_text("bye")
                    return
                else:
                    raise ValueError("unknown frame type %d" % kind)
            except (ValueError, TypeError, OSError, MemoryError) as e:
                gc.collect()
                link.answer_text("%s: %s" % (type(e).__name__, e), protocol.FAILED)
                continue
            link.answer_text(answer)


def main(model_path, checkpoint=None, arena=0, stream_in=None, stream_out=None):
    """Serves a training run on stdin/stdout (the USB or UART serial link) until BYE. arena: bytes
    of the trainer's arena (the host sizes it for the run's plan), taken first, while the heap is
    still whole, and given to the trainer: it picks the fastest plan that fits the arena, not the
    free heap, so deploy's check and every run of the plan build the same one. 0, or a
    heap without a block that large, leaves it to the trainer, which then says at CONFIG what it
    could not take."""
    try:
        import micropython

        micropython.kbd_intr(-1)  # a 0x03 byte in a frame must not raise KeyboardInterrupt
    except (ImportError, AttributeError):
        micropython = None
    try:
        try:
            m = model_module.load(model_path)
            given = None
            if arena:
                try:
                    given = bytearray(arena)
                except MemoryError:
                    pass  # CONFIG then tells the host what the trainer could not take
            link = protocol.Link(stream_in or sys.stdin.buffer, stream_out or sys.stdout.buffer,
                                 protocol.HEADER + max(SAMPLE_HEADER + m.input_size, protocol.MAX_TEXT))
            server = Server(m, link, checkpoint, given)
        except MemoryError as e:
            m = link = server = given = None  # what was taken goes back for the refusal's small link
            refuse("MemoryError: %s, loading the model %s and starting the server" % (e, model_path), stream_in,
                   stream_out)
            return
        link.answer_text(server.hello(), kind=protocol.BOOT)
        server.run()
    finally:
        if micropython is not None:
            micropython.kbd_intr(3)


def refuse(message, stream_in=None, stream_out=None):
    """A server that cannot run: it answers every frame with `message` as a failure, until BYE or
    ABORT, so the host reports why rather than a link that never came up."""
    gc.collect()
    link = protocol.Link(stream_in or sys.stdin.buffer, stream_out or sys.stdout.buffer,
                         protocol.HEADER + protocol.MAX_TEXT)
    link.answer_text(message, protocol.FAILED, kind=protocol.BOOT)
    while True:
        kind = link.receive()
        if kind == protocol.BYE or kind == protocol.ABORT:
            link.answer_text("bye")
            return
        link.answer_text(message, protocol.FAILED)
