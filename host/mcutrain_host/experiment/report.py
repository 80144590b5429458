"""The study's report: a Markdown file with the accuracy table of each model (mean ± spread over
seeds), the cost of each method, the headline ratios and the plots; the same table as CSV."""

import csv
import dataclasses
import statistics
from pathlib import Path

from mcutrain_host.experiment import plots, tuning
from mcutrain_host.experiment.costs import HEAP
from mcutrain_host.experiment.methods import BOUND, METHODS, ZO
from mcutrain_host.experiment.study import CLEAN
from mcutrain_host.progress import duration


def summarize(records):
    """{(model, corruption, method): {after, after_sd, gain, gain_sd, seeds}}; a gain is the
    accuracy after minus before, both of the method's own model (the float methods': the float one)."""
    groups = {}
    for r in records:
        groups.setdefault((r["model"], r["corruption"], r["method"]), []).append(r)
    table = {}
    for k, rs in groups.items():
        after = [100 * r["accuracy_after"] for r in rs]
        gain = [100 * (r["accuracy_after"] - r["accuracy_before"]) for r in rs]
        unguarded = [100 * (r.get("accuracy_unguarded", r["accuracy_after"]) - r["accuracy_before"]) for r in rs]
        table[k] = {"after": statistics.mean(after), "after_sd": spread(after), "gain": statistics.mean(gain),
                    "gain_sd": spread(gain), "unguarded_gain": statistics.mean(unguarded), "seeds": len(rs)}
    return table


def spread(values):
    return statistics.stdev(values) if len(values) > 1 else 0.0


def mean_over(table, model, corruptions, method, field):
    """The mean over the corruptions, clean images left out: they are the row a method must not harm."""
    values = [table[(model, c, method)][field] for c in corruptions if (model, c, method) in table and c != CLEAN]
    return statistics.mean(values) if values else None


def headline(table, study, model):
    """{best_zo, best_zo_gain, float_gain, zo_fraction, fqt10_gain, fqt10_fraction}: gains against
    the bound's (methods.BOUND); fractions None when the bound gained nothing or was not run."""
    gains = {m: mean_over(table, model, study.corruptions, m, "gain") for m in study.methods}
    zo = [m for m in ZO if gains.get(m) is not None]
    best = max(zo, key=lambda m: gains[m]) if zo else None
    ref = gains.get(BOUND)

    def fraction(m):
        return gains[m] / ref if m is not None and gains.get(m) is not None and ref and ref > 0 else None

    return {"best_zo": best, "best_zo_gain": gains.get(best), "float_gain": ref, "zo_fraction": fraction(best),
            "fqt10_gain": gains.get("fqt-10"), "fqt10_fraction": fraction("fqt-10")}


def write_csv(table, path):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["model", "corruption", "method", "seeds", "accuracy_mean", "accuracy_sd", "gain_mean",
                         "gain_sd"])
        for (model, corruption, method), row in sorted(table.items()):
            writer.writerow([model, corruption, method, row["seeds"], f"{row['after']:.2f}", f"{row['after_sd']:.2f}",
                             f"{row['gain']:.2f}", f"{row['gain_sd']:.2f}"])


def percent(value):
    return "-" if value is None else f"{100 * value:.0f}%"


def points(value):
    return "-" if value is None else f"{value:+.1f}"


def accuracy_table(table, study, model):
    methods = study.methods
    lines = ["| corruption | " + " | ".join(methods) + " |", "| --- |" + " ---: |" * len(methods)]
    for c in study.corruptions:
        cells = []
        for m in methods:
            row = table.get((model, c, m))
            cells.append("" if row is None else f"{row['after']:.1f} ± {row['after_sd']:.1f}")
        lines.append(f"| {'clean (none)' if c == CLEAN else c} | " + " | ".join(cells) + " |")
    for label, field in (("mean accuracy over the corruptions", "after"), ("mean gain (points)", "gain")):
        values = [mean_over(table, model, study.corruptions, m, field) for m in methods]
        shown = ["" if v is None else (f"{v:+.1f}" if field == "gain" else f"{v:.1f}") for v in values]
        lines.append(f"| **{label}** | " + " | ".join(shown) + " |")
    for label, field in (("worst gain, clean images included", "gain"),
                         ("worst gain without the guard", "unguarded_gain")):
        values = [worst(table, model, study.corruptions, m, field) for m in methods]
        lines.append(f"| **{label}** | " + " | ".join(points(v) if v is not None else "" for v in values) + " |")
    return lines


def worst(table, model, corruptions, method, field):
    """The lowest of a field over the corruptions and clean images (do no harm: docs/algorithms.md)."""
    values = [table[(model, c, method)][field] for c in corruptions if (model, c, method) in table]
    return min(values) if values else None


def cost_table(records, costs, study, model):
    lines = ["| method | what it does | lr | planned bytes, fast / lean | × inference, fast / lean | instructions per "
             "step on qemu-m0, fast / lean | heap on qemu-m0 | heap on the virtual board | µs per step (virtual board) "
             "| forward passes per step | host seconds per cell |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for m in study.methods:
        cost = costs.get(model, {}).get(m, {})
        cells = [r for r in records if r["model"] == model and r["method"] == m]
        forwards = [r["forwards_per_step"] for r in cells if "forwards_per_step" in r]
        step = cost.get("us")
        plans = [cost["plans"][plan] for plan in ("fast", "lean")] if "plans" in cost else []
        rate = study.learning_rate(model, m)
        row = [m, METHODS[m].title, "-" if rate is None else f"{rate:g}",
               " / ".join(str(p["planned"]) for p in plans) or cost.get("planned", "-"),
               " / ".join(f"{p['planned'] / cost['inference']:.2f}" for p in plans) or ("1.00" if "planned" in cost else "-"),
               " / ".join(arm(p.get("qemu-m0"), "instructions") for p in plans) or "-",
               arm(cost.get("qemu-m0"), "heap"), cost.get("heap", cost.get("error", "-")),
               "-" if step is None else round(step),
               f"{statistics.mean(forwards):.1f}" if forwards else "-",
               f"{statistics.mean(r['seconds'] for r in cells):.1f}" if cells else "-"]
        lines.append("| " + " | ".join(str(v) for v in row) + " |")
    return lines


def arm(step, field):
    """A cell of a step on the emulated Cortex-M0 (mcutrain_host.instructions.training_steps)."""
    if step is None:
        return "-"
    if isinstance(step, str):
        return f"does not fit ({step})"
    return f"{step[field] / 1e6:.1f} M" if field == "instructions" else step[field]


def write(path, study, records, costs, sessions, results=None):
    """Writes the report at `path` (Markdown), its plots beside it (`<stem>-<model>-*.png`) and
    `<stem>.csv`; returns {model: headline}. `results`: every cell's record by key, the tuning
    cells' included, for the table of the rates tried."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = summarize(records)
    write_csv(table, path.with_suffix(".csv"))
    # The runs that ran this report's models: the folder may also hold other models' runs.
    sessions = [s for s in sessions if set(s["models"]) & set(study.models)]
    seconds = sum(s["seconds"] for s in sessions)
    cells = sum(s["cells"] for s in sessions)
    # Cells a run made may have been dropped from the folder since (a method changed): say so.
    kept = cells if results is None else sum(1 for r in results.values() if r["model"] in study.models)
    settings = dataclasses.asdict(study)
    shown = ", ".join(f"{k} {v}" for k, v in settings.items()
                      if k not in ("models", "corruptions", "methods", "lr", "tuned") and v != "")
    lines = [f"# Adaptation study: {study.dataset}, severity {study.severity}", "",
             "Generated by `mcutrain experiment` (host/mcutrain_host/experiment) with:", ""]
    # The commands that ran cells, and the one that wrote this report; in order, each once.
    commands = list(dict.fromkeys(s["command"] for s in sessions if s["cells"] or s is sessions[-1]))
    lines += [f"    mcutrain {command}" for command in commands] or ["    (not run yet)"]
    dropped = f"; {cells - kept} of them were dropped from the cells' folder since, which holds {kept}" \
        if kept < cells else ""
    lines += ["", f"{cells} cells in {duration(seconds)} of wall time on {sessions[-1]['cpus'] if sessions else '?'} "
                  f"cores ({sessions[-1]['workers'] if sessions else '?'} worker processes), "
                  f"{len(sessions)} run(s) of the command{dropped}. Settings: {shown}; learning rates in the cost "
                  "tables.", "",
              "Each cell adapts a model to one corruption with one seed on the host simulation (the device package "
              "on CPython over the NumPy kernels, byte-identical to a board): `samples` corrupted images drawn by "
              "the seed, `epochs` passes, `batch` per step, cosine schedule. The images: the models were "
              "pre-trained on the dataset's train split; the adaptation samples come from its held-out split "
              "less that split's first `validation` images, the validation images. Each method's learning rate "
              "is the best of `rates` by mean accuracy on the validation images after adapting to "
              "`tune_corruptions` with seed 0 (the rates tried are in each model's section; `lr` fixes rates "
              "instead). The figures are accuracies on `test` corrupted images of the test split drawn by each "
              "seed, which no choice saw. Cells show mean ± standard deviation over the seeds, in %, so the "
              "spread includes that of the test draw. A gain is accuracy after minus before on the method's own "
              f"model (the float methods start from the float model the int8 one was quantized from); ratios are "
              f"against {BOUND}, float back-propagation of every layer with Adam: the bound.", ""]
    headlines = {}
    for model in study.models:
        h = headlines[model] = headline(table, study, model)
        done = sum(r["model"] == model for r in records)
        planned_cells = len(study.corruptions) * len(study.methods) * study.seeds
        worker_seconds = sum(r["seconds"] for r in records if r["model"] == model)
        lines += [f"## {model}", ""]
        if done < planned_cells:
            lines += [f"**Incomplete: {done} of {planned_cells} cells so far**; the same command goes on from here.", ""]
        lines += [f"Its cells took {duration(worker_seconds)} of worker time (each cell's own time, summed).", "",
                  f"- Best ZO method: **{h['best_zo']}**, mean gain {points(h['best_zo_gain'])} points, "
                  f"**{percent(h['zo_fraction'])}** of {BOUND}'s {points(h['float_gain'])}.",
                  f"- FQT with 10% partial updates: mean gain {points(h['fqt10_gain'])} points, "
                  f"**{percent(h['fqt10_fraction'])}** of {BOUND}'s.", ""]
        lines += ["### Accuracy after adaptation (%)", ""] + accuracy_table(table, study, model) + [""]
        rates = tuning.table(study, results or {}, model)
        if rates:
            lines += ["### Learning rates, chosen on the validation images", "",
                      f"Mean validation accuracy (%) after adapting to {', '.join(study.tune_corruptions)} with "
                      "seed 0, at each rate tried; the table above ran at the chosen one.", ""] + rates + [""]
        lines += ["### Cost per method", "",
                  "Planned bytes: what mcutrain's planner holds at one sample per step (weights, parameter "
                  "blocks, activation arena, training buffers), × inference: relative to inference alone, under "
                  "each plan (docs/memory.md): fast keeps what queries restart from and whole gradients, lean "
                  "re-runs each query from the input and makes weight gradients a few channels at a time; both "
                  "train to the same bytes, so the trade is memory against instructions. Instructions: one step "
                  "at one sample on the emulated Cortex-M0 (190 KB heap, package, armv6m natmod and model in "
                  "ROMFS), counted by its 32-bit timer under QEMU -icount (mcutrain_host/instructions.py), where "
                  "QEMU is installed; they repeat for one build and program, but the kernels' scratch is what "
                  "the heap's largest free block leaves (docs/memory.md), and at a heap's edge a few bytes more "
                  "or less of code can change it and the step's count (docs/benchmarks.md). Heap on qemu-m0: in "
                  "use after such a step under the plan the trainer picks there (32-bit objects). Heap and µs per "
                  "step on the virtual board: `mcutrain.bench` (x64 "
                  f"MicroPython, 64-bit objects, so an upper bound of a 32-bit board's heap; {HEAP} of heap), one "
                  "sample per step, code and objects included; the µs are the wall-clock time of the machine "
                  "that ran the study, which its load moves from one run to the next, unlike the instruction "
                  "counts. Forward passes per step: layer runs per step "
                  "divided by the model's layers, in the study's cells.", ""]
        lines += cost_table(records, costs, study, model) + [""]
        guarded = [r["guard_bytes"] for r in records if r["model"] == model and "guard_bytes" in r]
        if guarded:
            lines += [f"The guard (docs/algorithms.md, section 4) adds the same to every method: "
                      f"{guarded[0]['guard_ram']:,} bytes of RAM (its labels, hits and one batch of images) and "
                      f"{guarded[0]['guard_file']:,} bytes of images in a file, in flash on a board, with the kept "
                      f"state's checkpoint beside them.", ""]
        for kind, caption in plots.draw(path, study, records, table, model):
            lines += [f"![{caption}]({kind})", ""]
    path.write_text("\n".join(lines))
    return headlines
