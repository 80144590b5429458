"""Learning rates chosen on validation images, never on the images the report gives.

For each model, and each method that learns and whose rate the study does not fix (`lr`), a
tuning cell adapts at every rate of `rates`, on every corruption of `tune_corruptions`, with seed
0, and is evaluated on the validation images (cell.py). The rate with the best mean accuracy
after adaptation there (the smaller one on a tie) is the rate the table's cells run at.
"""

import dataclasses
import statistics

from mcutrain_host.experiment import cell
from mcutrain_host.experiment.methods import METHODS


def tuned(study, model, method):
    """Whether the method's rate for this model is chosen by tuning."""
    return bool(METHODS[method].lr) and study.fixed_rate(model, method) is None


def cells(study):
    """(model, corruption, method, seed, rate) of every tuning cell."""
    return [(model, corruption, method, 0, rate) for model in study.models for corruption in study.tune_corruptions
            for method in study.methods if tuned(study, model, method) for rate in study.rates]


def scores(study, records):
    """{(model, method): {rate: mean validation accuracy after adaptation}} of the tuning cells in
    `records` (cell.run's records, by key)."""
    found = {}
    for c in cells(study):
        record = records.get(cell.key(*c))
        if record is not None:
            model, _, method, _, rate = c
            found.setdefault((model, method), {}).setdefault(rate, []).append(record["accuracy_after"])
    return {k: {rate: statistics.mean(a) for rate, a in by_rate.items()} for k, by_rate in found.items()}


def with_rates(study, records):
    """The study with the rate each tuning chose (its `tuned`); ValueError if a tuning cell has
    not run."""
    missing = [c for c in cells(study) if cell.key(*c) not in records]
    if missing:
        raise ValueError(f"{len(missing)} tuning cells have not run")
    chosen = tuple((f"{model}/{method}", max(sorted(by_rate), key=by_rate.get))
                   for (model, method), by_rate in scores(study, records).items())
    return dataclasses.replace(study, tuned=tuple(sorted(chosen)))


def table(study, records, model):
    """Markdown lines: each tuned method's mean validation accuracy (%) at every rate tried."""
    found = scores(study, records)
    methods = [m for m in study.methods if (model, m) in found]
    if not methods:
        return []
    lines = ["| method | " + " | ".join(f"{rate:g}" for rate in study.rates) + " | chosen |",
             "| --- |" + " ---: |" * (len(study.rates) + 1)]
    for m in methods:
        by_rate = found[(model, m)]
        cells_shown = [f"{100 * by_rate[rate]:.1f}" if rate in by_rate else "" for rate in study.rates]
        lines.append(f"| {m} | " + " | ".join(cells_shown) + f" | {study.learning_rate(model, m):g} |")
    return lines
