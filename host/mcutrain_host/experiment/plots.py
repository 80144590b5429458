"""The study's plots, one pair per model: accuracy per corruption per method, and mean accuracy
against samples seen."""

import statistics

import matplotlib

matplotlib.use("Agg")  # files only: no display needed, none opened
import matplotlib.pyplot as plt  # noqa: E402

from mcutrain_host.experiment.methods import METHODS  # noqa: E402
from mcutrain_host.experiment.study import CLEAN  # noqa: E402


def color(method):
    """One colour per method in every plot."""
    return plt.cm.tab10(list(METHODS).index(method) % 10)


def draw(report_path, study, records, table, model):
    """Writes the model's plots beside the report; returns [(file name, caption)]."""
    stem = report_path.with_suffix("")
    made = []
    name = f"{stem.name}-{model}-accuracy.png"
    by_corruption(report_path.parent / name, study, table, model)
    made.append((name, f"{model}: accuracy after adaptation per corruption and method"))
    name = f"{stem.name}-{model}-curves.png"
    curves(report_path.parent / name, study, records, model)
    made.append((name, f"{model}: mean held-out accuracy against adaptation samples seen"))
    return made


def by_corruption(path, study, table, model):
    """A grid: a row per corruption, a column per method, the mean accuracy after in each cell."""
    corruptions, methods = study.corruptions, study.methods
    values = [[table.get((model, c, m), {}).get("after", float("nan")) for m in methods] for c in corruptions]
    fig, ax = plt.subplots(figsize=(1.5 + 0.9 * len(methods), 1.2 + 0.35 * len(corruptions)))
    ax.imshow(values, cmap="viridis", vmin=0, vmax=100, aspect="auto")
    for i, row in enumerate(values):
        for j, value in enumerate(row):
            if value == value:  # not NaN: the cell ran
                ax.text(j, i, f"{value:.0f}", ha="center", va="center", fontsize=7,
                        color="white" if value < 60 else "black")
    ax.set_xticks(range(len(methods)), methods, rotation=45, ha="right")
    ax.set_yticks(range(len(corruptions)), [c.replace("_", " ") for c in corruptions])
    ax.set_title(f"{model}, severity {study.severity}: held-out accuracy after adaptation (%)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def curves(path, study, records, model):
    """Accuracy against samples seen, over the corruptions (clean images left out, as in the
    report's means); the curve is the run's own, before the guard gives back a kept state."""
    records = [r for r in records if r["corruption"] != CLEAN]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for method in study.methods:
        if METHODS[method].family == "none":  # not adapted: a level line
            after = [100 * r["accuracy_after"] for r in records if r["model"] == model and r["method"] == method]
            if after:
                ax.axhline(statistics.mean(after), color=color(method), linestyle="--", label=method)
            continue
        points = {}
        for r in records:
            if r["model"] == model and r["method"] == method:
                for seen, accuracy in r["curve"]:
                    points.setdefault(seen, []).append(100 * accuracy)
        if points:
            xs = sorted(points)
            ax.plot(xs, [statistics.mean(points[x]) for x in xs], marker="o", label=method, color=color(method))
    ax.set_xlabel("adaptation samples seen")
    ax.set_ylabel("held-out accuracy, mean over corruptions and seeds (%)")
    ax.set_title(f"{model}, severity {study.severity}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
