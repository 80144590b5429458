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
            layer.run = lambda acts, run=layer.run: (counted.__setitem__(0, counted[0] + 1), run(acts))
        x, y = bytes((i * 37) & 0xFF for i in range(m.input_size)), bytes([3])
        t.step(x, y)
        runs[plan] = counted[0], t, m
    kept, t, m = runs[budget]
    assert t.plan_choice.startswith("lean, keeping tensors 14/") and m.planned <= budget
    assert lean < m.planned and kept < runs["lean"][0]  # more memory than lean buys fewer layer runs
