"""The study's plots, one pair per model: accuracy per corruption per method, and mean accuracy
against samples seen."""

import statistics

import matplotlib

matplotlib.use("Agg")  # files only: no display needed, none opened
import matplotlib.pyplot as plt  # noqa: E402

from mcutrain_host.experiment.methods import METHODS  # noqa: E402


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
    corruptions, methods = study.corruptions, study.methods
    fig, ax = plt.subplots(figsize=(max(6, 0.6 * len(corruptions) * len(methods) ** 0.5), 4.5))
    width = 0.8 / len(methods)
    for j, method in enumerate(methods):
        values = [table.get((model, c, method), {}).get("after", 0) for c in corruptions]
        errors = [table.get((model, c, method), {}).get("after_sd", 0) for c in corruptions]
        ax.bar([i + (j - (len(methods) - 1) / 2) * width for i in range(len(corruptions))], values, width,
               yerr=errors, label=method, color=color(method), error_kw={"linewidth": 0.6})
    ax.set_xticks(range(len(corruptions)), [c.replace("_", " ") for c in corruptions], rotation=45, ha="right")
    ax.set_ylabel("held-out accuracy after adaptation (%)")
    ax.set_title(f"{model}, severity {study.severity}")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7, ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def curves(path, study, records, model):
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
