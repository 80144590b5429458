"""What each method costs, at one sample per step as a board trains: the memory its plan holds
(mcutrain's planner, on the host: model weights, parameter blocks, activation arena and training
buffers), under the fast plan and the lean one (docs/memory.md); a step on the virtual board
(MicroPython's unix port, the x64 natmod), timed and with its whole heap in use, by
mcutrain.bench; and where QEMU and the ARM builds are at hand, the instructions of a step under
each plan on the emulated Cortex-M0 (mcutrain_host.instructions)."""

import collections
import shutil
from pathlib import Path

from mcutrain import model as device_model
from mcutrain.trainer import Trainer
from mcutrain_host import instructions
from mcutrain_host.board import deploy, qemu
from mcutrain_host.commands import bench
from mcutrain_host.board.link import LinkDown
from mcutrain_host.experiment.methods import METHODS

HEAP = "1M"  # room for every method of every model: the heap column says what a step holds
ARM_BOARD = "qemu-m0"
PLANS = ("fast", "lean")


def sparse_layers(records, model, method):
    """The layer set a sparse method chose most often in the study's cells."""
    chosen = collections.Counter(tuple(r["layers"]) for r in records
                                 if r["model"] == model and r["method"] == method and "layers" in r)
    return list(chosen.most_common(1)[0][0]) if chosen else None


def trainer_settings(mcut, method, layers, queries, plan=None):
    """The method's Trainer settings (Method.settings) for the model file `mcut`, on `layers` if
    given, under `plan` if given."""
    settings = METHODS[method].settings(Path(mcut).stem, queries)
    if layers:
        settings["layers"] = layers
    if plan:
        settings["plan"] = plan
    return settings


def planned(mcut, method, layers, queries, plan=None):
    """Bytes the plan holds at batch 1: the method's under `plan`, or inference alone for `int8`."""
    m = device_model.load(str(mcut))
    if METHODS[method].family == "none":
        m.plan(batch=1)
        return m.memory()["total"]
    return Trainer(m, batch=1, **trainer_settings(mcut, method, layers, queries, plan)).memory()["total"]


def on_virtual_board(mcut, method, layers, queries):
    """{us, heap} of one training step on the virtual board (mean of 3 after a warm-up), or
    {error} when the step fails there."""
    settings = trainer_settings(mcut, method, layers, queries)
    kind, mode = settings.pop("method"), settings.pop("mode", "mix")
    output, errors = bench.on_virtual_board(bench.script(Path(mcut).resolve(), (kind,), mode, repeat=1, steps=3,
                                                         settings=settings), HEAP)
    report = bench.parse(output)
    if report is None or not report["steps"]:
        return {"error": (errors or output)[-500:]}
    step = report["steps"][0]
    if "error" in step:
        return {"error": step["error"]}
    stage = next(k for k in report["memory"] if k != "model")
    return {"us": step["us"], "heap": report["memory"][stage]["heap_used"]}


def on_arm(mcut, steps):
    """{(method, plan): a step on ARM_BOARD, or why not} for [(method, layers, queries, plan)] (plan
    None: the one the trainer picks for the board's heap); {} where the emulated board cannot run
    (no QEMU, no ARM natmod or firmware)."""
    if not steps or shutil.which(qemu.QEMU) is None:
        return {}
    named = {f"{method} {plan}": (method, plan) for method, _, _, plan in steps}
    settings = [(f"{method} {plan}", trainer_settings(mcut, method, layers, queries, plan))
                for method, layers, queries, plan in steps]
    try:
        return {named[name]: found for name, found in instructions.training_steps(ARM_BOARD, mcut, settings).items()}
    except (qemu.QemuError, deploy.DeployError, LinkDown, OSError):
        return {}


def measure(study, records, known):
    """{model: {method: cost dict}} for the study's models and methods; `known` holds earlier
    measurements in that shape, reused when the method trains the same layers."""
    costs = {}
    for model in study.models:
        mcut = study.model_files(model)[0]
        inference = planned(mcut, "int8", None, study.queries)
        per_method = costs[model] = {}
        new_steps = []
        for method in study.methods:
            spec = METHODS[method]
            layers = sparse_layers(records, model, method) if spec.sparse else None
            old = known.get(model, {}).get(method)
            if old is not None and old.get("layers") == layers and (spec.family in ("none", "float") or "plans" in old):
                per_method[method] = old
            elif spec.family == "float":
                per_method[method] = {"layers": layers}
            else:
                cost = per_method[method] = {"layers": layers, "planned": planned(mcut, method, layers, study.queries),
                                             "inference": inference}
                if spec.family != "none":
                    cost.update(on_virtual_board(mcut, method, layers, study.queries))
                    cost["plans"] = {plan: {"planned": planned(mcut, method, layers, study.queries, plan)}
                                     for plan in PLANS}
                    new_steps += [(method, layers, study.queries, plan) for plan in (None,) + PLANS]
        for (method, plan), found in on_arm(mcut, new_steps).items():
            cost = per_method[method]
            (cost if plan is None else cost["plans"][plan])[ARM_BOARD] = found
    return costs
