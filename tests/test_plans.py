"""Choosing and placing a trainer's plan (CPython; the same code runs on the board): the fast
and the lean plan by the `plan` setting, a byte budget, a given arena, and an arena reused by
every later plan that fits it (docs/memory.md)."""

import pytest

from mcutrain import model as model_module
from mcutrain.model_file import ModelError
from mcutrain.trainer import Trainer
from model_cases import MODELS

SMALL = MODELS / "small.mcut"
WP = {"method": "zo", "mode": "wp"}


def sizes():
    """(fast, lean) arena bytes of weight perturbation of every layer of small."""
    return tuple(Trainer(model_module.load(str(SMALL)), plan=plan, **WP).model.planned for plan in ("fast", "lean"))


def test_a_budget_picks_the_fast_plan_where_it_fits_and_the_lean_one_at_its_size():
    fast, lean = sizes()
    assert lean < fast
    assert Trainer(model_module.load(str(SMALL)), plan=fast, **WP).plan_choice.startswith("fast: its arena of")
    t = Trainer(model_module.load(str(SMALL)), plan=lean, **WP)
    assert t.model.planned <= lean and t.plan_choice.startswith("lean")
    with pytest.raises(ValueError, match="plan=1000: no plan fits in that many bytes of arena; the lean one needs"):
        Trainer(model_module.load(str(SMALL)), plan=1000, **WP)


def test_a_given_arena_serves_every_later_plan_and_refuses_a_larger_one():
    fast, lean = sizes()
    arena = bytearray(lean)
    m = model_module.load(str(SMALL))
    t = Trainer(m, arena=arena, **WP)  # too small for the fast plan: a lean one, in the given bytes
    assert m.arena is arena and t.plan_choice.startswith("lean")
    t = Trainer(m, layers=[12, 14], **WP)  # the fast plan of two layers fits the given bytes
    assert m.arena is arena and t.plan_choice.startswith("fast:") and m.planned < lean
    with pytest.raises(ModelError, match="the plan needs an arena of %d bytes; the one given has %d" % (fast, lean)):
        Trainer(m, plan="fast", **WP)


def test_a_plan_that_fits_the_current_arena_takes_no_new_one():
    m = model_module.load(str(SMALL))
    t = Trainer(m, **WP)
    first = m.arena
    t.set(layers=[12, 14])
    t = Trainer(m, method="fqt")
    assert m.arena is first and m.planned < len(first)
    with pytest.raises(ValueError, match="plan must be 'fast', 'lean' or a budget"):
        t.set(plan="tight")
    assert t.plan is None and m.arena is first  # a refused setting leaves the trainer as it was


def test_a_stage_that_makes_a_tensor_again_places_it_apart_and_sees_it_there():
    from mcutrain.plan import Plan

    m = model_module.load(str(SMALL))
    plan = Plan(m, 1)
    plan.begin_stage()
    plan.forward(0, 2)  # makes tensors 1 and 2 again
    plan.read([1])  # keeps 1 while the next pass runs
    plan.forward(2)
    first, second = plan.stage_tensors()
    assert all(first[t] != second[t] for t in range(1, len(first)))  # stage 1 makes every tensor again
    m.use(plan)
    m.stage(1)
    assert m.activation(1) is m.activation(1, 1)
    # A stage cannot read a tensor of an earlier stage and then make it again: its views would
    # be the new buffer's for the whole stage.
    plan = Plan(m, 1)
    plan.begin_stage()
    plan.read([3])
    with pytest.raises(ModelError, match="a stage cannot read tensor 3 and then make it again"):
        plan.forward(0)


@pytest.mark.parametrize("name,mode,target", [("tiny", "wp", 1.15), ("small", "wp", 1.15), ("tiny", "np", 1.5),
                                              ("small", "np", 1.5)])
def test_lean_zeroth_order_plans_hold_close_to_inference_memory(name, mode, target):
    """Issue 17's targets: the bytes a lean plan holds (weights, parameter blocks, arena and the
    trainer's state outside it) over inference's alone. Bytes, not timings: the same on every machine."""
    m = model_module.load(str(MODELS / f"{name}.mcut"))
    m.plan(batch=1)
    inference = m.memory()["total"]
    t = Trainer(model_module.load(str(MODELS / f"{name}.mcut")), method="zo", mode=mode, plan="lean")
    assert t.memory()["total"] <= target * inference


def test_a_budget_between_keeps_the_deepest_restart_tensors_that_fit_and_saves_forward_work():
    fast, lean = sizes()
    budget = (fast + lean) // 2
    runs = {}
    for plan in ("lean", budget):
        m = model_module.load(str(SMALL))
        t = Trainer(m, plan=plan, **WP)
        counted = [0]
        for layer in m.layers:
            layer.run = lambda run=layer.run: (counted.__setitem__(0, counted[0] + 1), run())
        x, y = bytes((i * 37) & 0xFF for i in range(m.input_size)), bytes([3])
        t.step(x, y)
        runs[plan] = counted[0], t, m
    kept, t, m = runs[budget]
    assert t.plan_choice.startswith("lean, keeping tensors 14/") and m.planned <= budget
    assert lean < m.planned and kept < runs["lean"][0]  # more memory than lean buys fewer layer runs


@pytest.fixture
def add_tables(monkeypatch):
    """The natmod's scratch sizes (qnn.h) on the reference kernels, which take no scratch: the
    plan then holds the kernels' scratch as on a board."""
    from mcutrain.backend import kernels

    monkeypatch.setattr(kernels, "ADD_SCRATCH", 4096)
    monkeypatch.setattr(kernels, "SCRATCH_PER_WEIGHT", 4)


def lives_of(plan):
    lives = {}
    for i in range(0, len(plan.lives), 3):
        lives.setdefault(plan.lives[i], []).append((plan.lives[i + 1], plan.lives[i + 2]))
    return lives


def wp_plan(m):
    """A plan like a ZO-WP trainer's: the forward pass, then a query from tensor 4 (at time
    plan.query_at + i, layer i runs)."""
    from mcutrain.plan import Plan

    plan = Plan(m, 1)
    plan.begin_stage()
    plan.query_at = plan.time - 4
    plan.forward(4)
    return plan


def test_the_kernels_scratch_lives_beside_no_buffer_while_a_kernel_that_takes_it_runs(add_tables):
    m = model_module.load(str(SMALL))
    plan = wp_plan(m)
    size = plan.place(None)
    scratch, offsets, sizes = plan.scratch, plan.offsets, plan.sizes
    assert sizes[scratch] == 4096 + 3 and offsets[scratch] % 8 == 0 and offsets[scratch] + sizes[scratch] <= size
    lives = lives_of(plan)
    # It lives from the first to the last layer of each pass with a use of it (add, and each
    # widening conv2d): layer i runs at time i in the forward pass.
    users = [layer.index for layer in m.layers if layer.scratch_bytes(1)]
    assert any(m.layers[i].op == "add" for i in users) and any(m.layers[i].op == "conv2d" for i in users)
    query = [i for i in users if i >= 4]
    assert sorted(lives[scratch]) == [(users[0], users[-1]), (plan.query_at + query[0], plan.query_at + query[-1])]
    for b in range(len(sizes)):
        if b != scratch:
            live_together = any(a0 <= b1 and b0 <= a1 for a0, a1 in lives[scratch] for b0, b1 in lives[b])
            apart = offsets[b] + sizes[b] <= offsets[scratch] or offsets[scratch] + sizes[scratch] <= offsets[b]
            assert apart or not live_together, b


def test_the_kernels_scratch_grows_the_arena_only_into_room_for_it_and_as_much_again(add_tables, monkeypatch):
    from mcutrain.backend import kernels

    m = model_module.load(str(SMALL))
    with monkeypatch.context() as without:
        without.setattr(kernels, "ADD_SCRATCH", 0)
        plain = wp_plan(m)
        alone = plain.place(None)
        assert plain.scratch < 0  # no add's tables to hold: take_scratch's heap block alone
    plan = wp_plan(m)
    grown = plan.place(None)
    # Placed last, it moves no other buffer, whatever its size.
    for size in (4096, 1 << 14):
        with monkeypatch.context() as larger:
            larger.setattr(kernels, "ADD_SCRATCH", size)
            placed = wp_plan(m)
            placed.place(None)
        assert [offset for b, offset in enumerate(placed.offsets) if b != placed.scratch] == list(plain.offsets)
    assert alone < grown <= alone + 4096 + 3 + 8  # no gap in this plan holds it: it goes on top
    needed = grown + 4096 + 3  # the arena with it, and as much again
    for room, placed in ((0, False), (needed - 8, False), (needed, True)):
        plan = wp_plan(m)
        assert plan.place(room) == (grown if placed else alone), room
        assert (plan.offsets[plan.scratch] >= 0) == placed


def test_a_plan_with_a_gap_holds_the_kernels_scratch_at_no_cost(add_tables, monkeypatch):
    """FQT's backward walk keeps large buffers while the forward layers no longer run: the
    scratch, live only while they run, fits under the arena's top."""
    from mcutrain.backend import kernels

    with monkeypatch.context() as without:
        without.setattr(kernels, "ADD_SCRATCH", 0)
        alone = Trainer(model_module.load(str(SMALL)), method="fqt").model.planned
    m = model_module.load(str(SMALL))
    t = Trainer(m, method="fqt")
    assert len(m.planned_scratch) == 4096 + 3 and m.planned == alone
    # Here (CPython) the heap gives the scratch every use asks for: a larger block replaces it.
    assert len(m.scratch) > 4096 + 3 and "the kernels' scratch: %d bytes)" % len(m.scratch) in t.plan_choice
    assert all(layer.scratch is m.scratch for layer in m.layers if layer.scratch_bytes(1))


def test_on_the_board_add_takes_its_tables_from_the_arena_and_the_bytes_stay_cpythons(board):
    """The virtual board's qnn has add's 4 KB tables (the reference has none): small's FQT plan
    holds them in a gap of its arena, and 20 steps end in the weights CPython computes."""
    from test_stock_heap import CHECK, on_cpython, program

    code = program("small", SMALL, "fqt").replace(CHECK, CHECK + """
from mcutrain.backend import kernels
scratch = m.scratch if m.scratch is not None else m.planned_scratch
print(kernels.ADD_SCRATCH, len(m.planned_scratch), bytes(m.planned_scratch) != bytes(len(m.planned_scratch)),
      all(l.scratch is scratch for l in m.layers if l.scratch_bytes(1)), t.plan_choice.split('(')[1])
""")
    crc, _, add_scratch, planned, written, shared, choice = board.run(code, heap="512K").split(maxsplit=6)
    assert crc == on_cpython("small", "fqt")
    assert (add_scratch, planned, written, shared) == ("4096", "4099", "True", "True")
    assert choice.startswith("the kernels' scratch:")


def test_on_the_board_an_arena_grown_for_the_scratch_that_finds_no_block_leaves_it_apart(board):
    """Where the heap refuses the arena grown for add's tables (here its first block, refused on
    purpose: a heap's edge does so in a layout no test can pin down), the arena is taken without
    them and the tables get a block of their own at once, not what the heap's pieces leave after
    the trainer's objects; 20 ZO-WP steps of small end in CPython's bytes."""
    from test_stock_heap import CHECK, on_cpython, program

    refuse_the_first_arena = """
from mcutrain import model as model_module
refused = []
reserve = model_module.Model.reserve
def reserve_but_the_first(self, size):
    if not refused:
        refused.append(size)
        self.release()
        raise MemoryError
    reserve(self, size)
model_module.Model.reserve = reserve_but_the_first
"""
    code = refuse_the_first_arena + program("small", SMALL, "zo-wp").replace(CHECK, CHECK + """
apart = type(m.planned_scratch) is bytearray  # a block of its own, not a view of the arena
shared = all(l.scratch is m.planned_scratch for l in m.layers if l.scratch_bytes(1))
choice = t.plan_choice.split('(')[1]
planned = len(m.planned_scratch)
m.drop_scratch()
print(refused[0] - len(m.arena), planned, apart, shared, m.planned_scratch is None, choice)
""")
    crc, _, grown_by, planned, apart, shared, dropped, choice = board.run(code, heap="512K").split(maxsplit=7)
    assert crc == on_cpython("small", "zo-wp")
    # The arena it refused held the tables on its top: without them it is smaller by at most their bytes.
    assert 0 < int(grown_by) <= 4096 + 3 + 8 and (planned, apart, shared) == ("4099", "True", "True")
    assert choice.startswith("the kernels' scratch: 4099 bytes beside the arena")
    assert dropped == "True"  # Model.drop_scratch gives that block back to the heap
