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


def test_a_budget_picks_the_fast_plan_where_it_fits_and_the_lean_one_below_that():
    fast, lean = sizes()
    assert lean < fast
    assert Trainer(model_module.load(str(SMALL)), plan=fast, **WP).plan_choice.startswith("fast: its arena of")
    t = Trainer(model_module.load(str(SMALL)), plan=fast - 1, **WP)
    assert t.model.planned == lean and t.plan_choice == (
        "lean: the fast plan's arena of %d bytes exceeds %d; the lean one needs %d" % (fast, fast - 1, lean))
    with pytest.raises(ValueError, match="plan=%d: the smallest plan needs an arena of %d bytes" % (lean - 1, lean)):
        Trainer(model_module.load(str(SMALL)), plan=lean - 1, **WP)


def test_a_given_arena_serves_every_later_plan_and_refuses_a_larger_one():
    fast, lean = sizes()
    arena = bytearray(lean)
    m = model_module.load(str(SMALL))
    t = Trainer(m, arena=arena, **WP)  # too small for the fast plan: the lean one, in the given bytes
    assert m.arena is arena and t.plan_choice.startswith("lean:")
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
