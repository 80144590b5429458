"""The REPL face of on-device training.

    t = Trainer(model, method="zo", layers=[4, 6], mode="mix", lr=0.01, queries=10)
    t.step(x, y)                  # x: int8 images (batch of them), y: bytes of labels
    t.set(lr=0.005, queries=20)   # between steps, from the REPL or the link
    t.stats(); t.memory()

Everything that decides an update is integer or fixed-point (mcutrain.fixed, the Q16 loss,
Q15 schedules), so a board and the host simulation train byte for byte alike. Buffers are planned
when the trainer is built or reconfigured; a step allocates nothing.
"""

import gc
import sys
from array import array

from mcutrain import schedule
from mcutrain.loss import Loss

METHODS = ("zo", "fqt", "hybrid")
WORD = 8 if sys.maxsize > 1 << 32 else 4
WP, NP = "wp", "np"  # ZO weight and node perturbation (mcutrain.zo)
MODES = (WP, NP, "mix")
# Settings that only change step sizes, and the ones that need new buffers.
_STEP_SETTINGS = ("lr", "zo_lr", "sigma", "bias_sigma", "act_sigma", "gns", "qas", "stochastic", "antithetic", "lmin", "lmax")
_PLAN_SETTINGS = ("queries", "layers", "mode", "batch", "fqt_layers", "plan", "standardize")
SETTINGS = _STEP_SETTINGS + _PLAN_SETTINGS + ("schedule_name", "total_steps")  # what set() takes


class Trainer:
    def __init__(self, model, method="zo", batch=1, layers=None, mode=WP, lr=0.01, queries=10, sigma=1,
                 bias_sigma=100, act_sigma=5, antithetic=False, gns=True, qas=True, stochastic=True, standardize=False,
                 schedule_name="constant", total_steps=1000, seed=1, lmin=1.0, lmax=1.0, fqt_layers=2, plan=None,
                 arena=None, zo_lr=None):
        if method not in METHODS:
            raise ValueError("method must be one of %s, got %r" % (METHODS, method))
        self.model, self.method = model, method
        self.batch, self.layers, self.mode = batch, layers, mode
        self.lr, self.queries, self.sigma, self.bias_sigma, self.act_sigma = lr, queries, sigma, bias_sigma, act_sigma
        self.antithetic, self.gns, self.qas, self.stochastic = antithetic, gns, qas, stochastic
        self.standardize = standardize  # ZO-NP: FQT's update rule, per-channel standardized gradients
        self.schedule_name, self.total_steps = schedule_name, total_steps
        self.lmin, self.lmax = lmin, lmax  # FQT partial updates: fractions of channels trained per step
        self.fqt_layers = fqt_layers  # hybrid: the top trainable layers that train by FQT
        self.zo_lr = zo_lr  # hybrid: the rate of the layers below them (None: lr)
        # The plan: "fast" keeps tensors for restarts, "lean" re-runs from the input, a number is a
        # budget of arena bytes; None picks the fast plan if it fits the free heap.
        self.plan, self.arena = plan, arena
        if not 0 <= seed < 1 << 30:
            raise ValueError("seed must be in [0, 2**30)")
        self.stream = array("i", [seed])
        self.steps = 0
        self.samples = 0
        self.last_loss = 0
        self._plan()

    def _check(self):
        if self.mode not in MODES:
            raise ValueError("mode must be one of %s, got %r" % (MODES, self.mode))
        if not 1 <= self.queries <= 128:
            raise ValueError("queries must be in 1..128, got %r" % (self.queries,))
        if self.schedule_name not in schedule.SCHEDULES:
            raise ValueError("schedule must be one of %s" % (tuple(schedule.SCHEDULES),))
        for name in ("sigma", "bias_sigma", "act_sigma", "batch", "total_steps"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError("%s must be a positive int, got %r" % (name, value))
        if self.lr <= 0:
            raise ValueError("lr must be positive, got %r" % (self.lr,))
        if self.zo_lr is not None and (self.method != "hybrid" or self.zo_lr <= 0):
            raise ValueError("zo_lr is the hybrid's ZO layers' rate, a positive number, got %r for method %s"
                             % (self.zo_lr, self.method))
        if not isinstance(self.fqt_layers, int) or self.fqt_layers < 1:
            raise ValueError("fqt_layers must be a positive int, got %r" % (self.fqt_layers,))
        p = self.plan
        if not (p is None or p in ("fast", "lean") or isinstance(p, int) and not isinstance(p, bool) and p > 0):
            raise ValueError("plan must be 'fast', 'lean' or a budget of arena bytes, got %r" % (p,))

    def _trainable(self):
        weighted = [layer for layer in self.model.layers if layer.weight is not None]
        if self.layers is None:
            return weighted[-self.fqt_layers:] if self.method == "fqt" else weighted
        chosen = []
        for i in self.layers:
            # A negative index counts the layers with weights from the end: -1 is the classifier,
            # -2 the weighted layer below it, whatever pools lie between.
            if -len(weighted) <= i < 0:
                layer = weighted[i]
            elif 0 <= i < len(self.model.layers) and self.model.layers[i].weight is not None:
                layer = self.model.layers[i]
            else:
                raise ValueError("layer %r is not a layer with weights (those are %s, or -1 to -%d from the end)"
                                 % (i, [layer.index for layer in weighted], len(weighted)))
            if layer in chosen:
                raise ValueError("layer %d is given twice in layers=%r" % (layer.index, self.layers))
            chosen.append(layer)
        return sorted(chosen, key=lambda layer: layer.index)

    def _mode_of(self, layer):
        """mix: node perturbation where a layer has fewer output nodes than weights, else WP."""
        if self.mode != "mix":
            return self.mode
        h, w, c = self.model.description.shape(layer.output)
        nodes = h * w * c
        return NP if nodes < len(layer.weight) else WP

    def _split(self, layers):
        """(FQT layers, ZO layers): the hybrid trains its top fqt_layers by FQT, the rest by ZO."""
        if self.method == "zo":
            return [], layers
        if self.method == "fqt":
            return layers, []
        if len(layers) <= self.fqt_layers:
            raise ValueError("the hybrid needs more trainable layers (%d) than fqt_layers (%d)"
                             % (len(layers), self.fqt_layers))
        return layers[-self.fqt_layers:], layers[:-self.fqt_layers]

    def _plan(self):
        """Builds the plan the `plan` setting asks for, the kernels' scratch in its arena where
        there is room (mcutrain.plan). A build that runs out of heap (the trials, the views: what
        _aside estimates) is made again without the arena grown for the scratch if it was, and
        then, where the plan is left to the trainer, lean."""
        self.scratch_grew = False
        try:
            self._plan_as_set(True)
            return
        except MemoryError as e:
            error = e
            self.model.release()  # the failed build's arena
        if self.scratch_grew:
            try:
                self._plan_as_set(False)
                return
            except MemoryError as e:
                error = e
                self.model.release()
        if self.plan is not None:
            raise error
        self.plan = "lean"
        try:
            self._plan_as_set(False)
        finally:
            self.plan = None
        self.plan_choice = "lean: building the plan first chosen ran out of heap (%s)" % error

    def _plan_as_set(self, scratch_in_arena):
        self._check()
        top, layers = self._split(self._trainable())
        # Drop the old plan's objects first, and the kernels' scratch (taken again last): on a board
        # the old and the new plan may not fit together.
        self.zo_layers = self.loss = self.fqt = None
        self.model.drop_scratch()
        gc.collect()
        _load_modules(top, layers)
        self.model.writable(top + layers)
        self.model.set_batch(self.batch)  # the layers' parameter blocks, which ZO and FQT copy
        self._build(top, layers)
        # Plans are placed now, while the heap still has room for the placing's working lists;
        # the fast one only where it may be chosen.
        placed = self._step_plan(())
        lean, aside = placed.place(), _aside(placed)
        fast = None
        if self.plan != "lean":
            placed = None
            placed = self._step_plan(None)
            fast, aside = placed.place(), _aside(placed)
        self.plan_choice, keep, need = self._choose(fast, lean, aside)
        # The kept plan and the choice are made after a collection, in the lowest holes: made
        # amid the trials' garbage, they would split the free block the arena needs.
        placed = None
        gc.collect()
        self.plan_choice = "%s" % self.plan_choice
        if keep:
            keep = tuple(list(keep))
        placed = self._step_plan(keep)
        room = self._arena_room(aside) if scratch_in_arena else 0  # the kernels' scratch may grow the arena into it
        need = placed.place(room)
        self.scratch_grew = placed.scratch_grew
        # Copied after a collection, the plan sits in the lowest holes, not amid the free block
        # the arena needs, where the planning's working lists put it.
        placed.compact()
        scratch_apart = None
        if not self.model.holds(need, self.arena):
            # The arena is one block: take it from the heap before the trainer's many small
            # objects scatter over its holes. The placed plan stays if it can: replayed for the
            # objects made anew, it needs no room beside the arena. Where the kernels' scratch grew
            # the arena, the scratch goes apart first (_scratch_apart). Where the plan cuts the
            # free block itself, it goes, and is placed again around the arena; and where no hole
            # holds the arena although the free bytes add up, the lean plan's may still fit.
            self.zo_layers = self.fqt = None
            try:
                self.model.reserve(need)
            except MemoryError:
                scratch_apart = _scratch_apart(self.model, placed)
            if self.model.arena is None:
                placed = None
                try:
                    self.model.reserve(need)
                except MemoryError:
                    if keep == () or self.plan is not None or lean >= need:
                        raise MemoryError("no free block holds the plan's arena of %d bytes: take it early, "
                                          "Trainer(..., arena=bytearray(%d))" % (need, need))
                    self.plan_choice, keep, room = "lean: no free block holds an arena of %d bytes; the lean " \
                        "one needs %d" % (need, lean), (), 0
                    self.model.reserve(lean)
            self._build(top, layers)
            if placed is None:
                placed = self._step_plan(keep)
                placed.place(room)
            else:
                self._step_plan(keep, placed)  # the new objects take the placed plan's buffers
        # Taken before the views and given back last: a block for what the caller holds beside
        # the trainer (_aside counts it), which the many small objects made next would cut up.
        try:
            spare = bytearray(_callers_bytes(self.batch, self.model))
        except MemoryError:
            if self.plan is None and keep is None:
                raise  # the fast plan the trainer chose leaves the caller no room: _plan takes the lean one
            spare = None  # a heap already cut up: the caller takes what holes there are
        self.model.use(placed, self.arena)
        if scratch_apart is not None:
            self.model.planned_scratch = scratch_apart
        # The model keeps what its views need of the plan; the rest goes back before binding.
        placed = None
        self.arena = None  # the model keeps a given arena for every later plan
        self.loss = Loss(self.model)
        if self.fqt is not None:
            self.fqt.bind(self.model)
        for layer in self.zo_layers:
            layer.bind(self.model)
        self.schedule = schedule.SCHEDULES[self.schedule_name]
        spare = None
        self.model.take_scratch(_callers_bytes(self.batch, self.model))
        if self.model.scratch is not None:
            self.plan_choice += " (the kernels' scratch: %d bytes)" % len(self.model.scratch)
        elif self.model.planned_scratch is not None:
            self.plan_choice += " (the kernels' scratch: %d bytes %s the arena)" % (
                len(self.model.planned_scratch), "beside" if scratch_apart is not None else "of")

    def _build(self, top, layers):
        """The trainer's per-layer state: FQT's chain for `top`, a LayerZO for each of `layers`."""
        self.zo_layers = []
        if layers:
            from mcutrain import zo  # loaded on use: on a board, code is RAM, and FQT alone needs none

            modes = [self._mode_of(layer) for layer in layers]
            # Later layers first: a layer's queries re-run the network above it.
            self.zo_layers = [zo.LayerZO(self, layer, mode) for layer, mode in reversed(list(zip(layers, modes)))]
        if top:
            from mcutrain import fqt  # loaded on use: on a board, code is RAM
            self.fqt = fqt.FQT(self, top)

    def _step_plan(self, keep, replay=None):
        """The plan of one step: the forward pass, FQT's backward walk, then each ZO layer's
        queries. keep None is the fast plan: each ZO layer restarts from the tensor it needs,
        kept from the forward pass, and gradients are whole. Otherwise a lean plan that keeps
        only the tensors in `keep` (none: every query from the input): a ZO layer restarts from
        the deepest of them at or below its own restart point, and gradients come in groups.
        `replay`: that plan, placed, walked again for this trainer's objects (Plan.replay)."""
        from mcutrain.plan import Plan

        plan = replay
        if plan is None:
            plan = Plan(self.model, self.batch)
        else:
            plan.replay()
        lean = keep is not None
        if self.fqt is not None:
            self.fqt.stage = plan.begin_stage()
            self.fqt.plan(plan, lean)
        intact = None
        for layer in self.zo_layers:
            restart = layer.restart_point
            if lean:
                restart = 0
                for t in keep:
                    if restart < t <= layer.restart_point:
                        restart = t
            layer.plan(plan, lean, restart, intact)
            if not lean:
                # The layer's input: its stage reads it, never makes it other than the forward
                # pass did, and it lies under the layer the stage updates and every one updated
                # before. A lean plan would keep it past its stage for this: bytes it saves.
                intact = layer.layer.inputs[0]
        return plan

    def _choose(self, fast, lean, aside):
        """(why, what to keep as _step_plan takes it, arena bytes), from the arena sizes of the
        fast (None where the setting asks for lean) and the lean plan: the plan the `plan`
        setting asks for; by default the fast one if it fits the room there is (the given arena,
        or the free heap less the bytes a plan takes aside from it, `aside`), else the lean one
        that keeps the deepest restart tensors that still fit."""
        if self.plan == "fast":
            return "fast, as asked", None, fast
        if self.plan == "lean":
            return "lean, as asked", (), lean
        room = self._arena_room(aside)
        if room is None or fast <= room:
            return "fast: its arena of %d bytes fits in %s" % (fast, "any heap" if room is None else room), None, fast
        # Keeping a restart tensor may even need less than the lean plan: a query from it makes fewer tensors.
        keep, size = self._keep_what_fits(room)
        if keep:
            return "lean, keeping tensors %s for restarts: the fast plan's arena of %d bytes exceeds %d; this one " \
                   "needs %d" % ("/".join(str(t) for t in keep), fast, room, size), keep, size
        if lean >= fast:
            return "fast: the lean plan would need as much (%d bytes of arena)" % lean, None, fast
        if self.plan is not None and lean > room:
            raise ValueError("plan=%d: no plan fits in that many bytes of arena; the lean one needs %d, the fast "
                             "one %d" % (room, lean, fast))
        return "lean: the fast plan's arena of %d bytes exceeds %d; the lean one needs %d" % (fast, room, lean), (), lean

    def _arena_room(self, aside):
        """Bytes the arena may have: the `plan` setting's, else those of _room (None: any)."""
        return self.plan if isinstance(self.plan, int) else _room(self.model, self.arena, aside)

    def _keep_what_fits(self, room):
        """(the restart tensors a lean plan keeps, its arena bytes): the deepest first, each one
        kept if the plan with it still fits `room`."""
        keep, size = (), 0
        points = sorted(set(layer.restart_point for layer in self.zo_layers), reverse=True)
        for t in points:
            if t == 0:
                continue  # the input is the caller's, outside the arena: restarting from it keeps nothing
            trial = keep + (t,)
            needed = self._step_plan(trial).place()
            if needed <= room:
                keep, size = trial, needed
        return keep, size

    def set(self, **settings):
        """Changes settings between steps; the next step uses them."""
        unknown = [k for k in settings if k not in SETTINGS]
        if unknown:
            raise ValueError("unknown setting(s): %s" % ", ".join(unknown))
        old = {k: getattr(self, k) for k in settings}
        for k, v in settings.items():
            setattr(self, k, v)
        try:
            if any(k in _PLAN_SETTINGS for k in settings):
                self._plan()
            else:
                self._check()
                self.schedule = schedule.SCHEDULES[self.schedule_name]
                for layer in self.zo_layers:
                    layer.configure()
                if self.fqt is not None:
                    self.fqt.configure()
        except Exception:
            for k, v in old.items():
                setattr(self, k, v)
            self._plan()
            raise

    def step(self, x, labels):
        """One training step on a batch: x int8 images back to back, labels one byte each.
        Returns the batch-mean loss before the update, in Q16 nats."""
        if len(labels) != self.batch:
            raise ValueError("%d labels for a batch of %d" % (len(labels), self.batch))
        self.loss.set_labels(labels)
        logits = self.model.infer(x)
        base = self.loss(logits) if self.fqt is None else self.loss.with_error(logits)
        self.last_loss = base
        factor = self.schedule(self.steps, self.total_steps)
        # FQT first: it needs the activations of the forward just run, which ZO queries overwrite.
        if self.fqt is not None:
            self.fqt.step(base, factor)
            base = None
        # Each ZO layer's loss differences are taken against the network as FQT and the layers
        # before it in this step left it (None: measured anew): against the step's first loss, its
        # queries would also measure the updates above it, noise that grows with the rate and the
        # number of layers.
        for layer in self.zo_layers:
            layer.step(base, factor)
            base = None
        self.model.stage(0)  # a forward pass from the REPL runs on the forward's tensors
        self.steps += 1
        self.samples += self.batch
        return self.last_loss

    def select_layers(self, x, labels, count, queries=None):
        """Sparse training: scores every weighted layer by its ZO gradient-norm ratio on one
        batch (mcutrain.selection) and trains the `count` best from now on; returns them."""
        from mcutrain import selection  # loaded on use: on a board, code is RAM

        weighted = [layer for layer in self.model.layers if layer.weight is not None]
        scored = selection.gradient_norm_ratios(self, weighted, x, labels, queries or self.queries)
        self.set(layers=selection.top(scored, count))
        return self.layers

    def save(self, path, extra=()):
        """Checkpoints the trainable tensors, the seed stream, the counters and the caller's
        `extra` buffers (bytearray or array('i')): written to a temporary file, then renamed over
        the older of two slots (mcutrain.checkpoint)."""
        from mcutrain.checkpoint import Checkpoints  # loaded on use: on a board, code is RAM

        loss_max = self.fqt.loss_max if self.fqt is not None else 0
        Checkpoints(path, self._state() + list(extra)).save(self.steps, (self.samples, loss_max))

    def resume(self, path, extra=()):
        """Restores the newest undamaged checkpoint of this trainer's layers (and the caller's
        `extra` buffers, as saved); False if there is none."""
        from mcutrain.checkpoint import Checkpoints

        found = Checkpoints(path, self._state() + list(extra)).load()
        if found is None:
            return False
        self.steps, counters = found
        self.samples = counters[0]
        if self.fqt is not None:
            self.fqt.loss_max = counters[1]
        return True

    def _state(self):
        tensors = []
        for layer in self._trainable():
            tensors.append(layer.weight)
            tensors.append(layer.bias)
        tensors.append(self.stream)
        return tensors

    def evaluate(self, images, labels):
        """Correct predictions among the images (int8, back to back) and their labels."""
        return self.model.evaluate(images, labels)

    def stats(self):
        """Progress for people: floats are for reporting only."""
        report = {"steps": self.steps, "samples": self.samples, "loss": self.last_loss / 65536, "plan": self.plan_choice,
                  "lr_factor": self.schedule(self.steps, self.total_steps) / 32768,
                  "layers": [(layer.layer.index, layer.mode) for layer in reversed(self.zo_layers)]}
        if self.fqt is not None:
            report["layers"] += [(layer.index, "fqt") for layer in self._split(self._trainable())[0]]
            report["error_exponent"] = self.fqt.exponent
        return report

    def memory(self):
        """Bytes: the model's (weights, params, arena, which holds the trainer's planned buffers
        too), training (the trainer's state outside the arena), their total; on
        a board also `heap`, the whole GC heap in use, and `code_and_objects`, the part of it
        that is neither: package bytecode, natmod code where the port keeps it in the heap, and
        Python objects. Nothing is allocated per step, so after a step `heap` is the peak."""
        report = self.model.memory()
        training = sum(layer.memory() for layer in self.zo_layers)
        if self.fqt is not None:
            training += self.fqt.memory()
        training += 8 * len(self.loss.per_sample) + len(self.loss.labels) + len(self.loss.error) + 16
        report["training"] = training
        report["total"] += training
        if hasattr(gc, "mem_alloc"):
            gc.collect()
            report["heap"] = gc.mem_alloc()
            report["code_and_objects"] = report["heap"] - report["total"]
        return report


def _load_modules(top, layers):
    """Imports what a build of FQT for `top` and ZO for `layers` uses, into the lowest holes of
    the heap: a module imported amid the objects built next (its functions and dicts are on the
    heap) would stay when those go, and split the free block the arena needs."""
    import mcutrain.plan  # noqa: F401
    if layers:
        import mcutrain.zo  # noqa: F401
    if top:
        import mcutrain.fqt  # noqa: F401


def _aside(plan):
    """Bytes a plan like this one takes beside its arena once the arena is taken: the plan kept
    for the rebuilt objects, its views and the stages' lists (measured about 7 bytes a buffer on
    a Cortex-M0, counted as 2 words a buffer and 128 more); and what the caller holds beside the
    trainer."""
    return plan.footprint() + WORD * (2 * len(plan.sizes) + 128) + _callers_bytes(plan.batch, plan.model)


def _scratch_apart(model, placed):
    """Where no free block holds the arena grown for the kernels' scratch: the arena without it,
    and the scratch in a block of its own taken at once, before the trainer's many small objects
    cut the heap up (two blocks fit where one may not). Returns that scratch, or None; the model
    has no arena where even the smaller one found no block."""
    if not placed.scratch_grew:
        return None
    try:
        model.reserve(placed.scratch_apart())
        return bytearray(placed.scratch_size)
    except MemoryError:
        return None


def _callers_bytes(batch, model):
    """What a trainer's caller holds beside it: a batch of inputs, and 256 words for a label, a
    report, a line typed."""
    return batch * model.input_size + 256 * WORD


def _room(model, arena, aside):
    """Bytes an arena can have: a given one's length; else the free heap plus the current arena,
    which a new plan replaces, less `aside`; None where the heap is not measured (CPython)."""
    if arena is not None:
        return len(arena)
    if model.arena_given:
        return len(model.arena)
    if not hasattr(gc, "mem_free"):
        return None
    gc.collect()
    return gc.mem_free() + (len(model.arena) if model.arena is not None else 0) - aside
