"""mcutrain experiment: the adaptation study, every method on every corruption over seeds."""

import argparse
import json
import os
import shlex
import sys
from pathlib import Path

from mcutrain_host.board import micropython
from mcutrain_host.commands import positive_int
from mcutrain_host.experiment import cell, costs, report, runner, study
from mcutrain_host.experiment.methods import BOUND, METHODS

# Flags that set a Study field, with their help; the field's default is the study's.
FIELDS = {
    "models": ("NAMES", "comma-separated model names in models/ (tiny, small) or .mcut paths"),
    "corruptions": ("NAMES", "comma-separated corruption names, or all (`mcutrain corrupt --list`)"),
    "methods": ("NAMES", "comma-separated methods, or all (see --list-methods)"),
    "severity": ("1-5", "corruption severity"),
    "seeds": ("N", "seeds per cell (0..N-1): which adaptation samples and test images, and the trainer's seed"),
    "samples": ("N", "adaptation samples per seed, from the held-out split less its validation images"),
    "validation": ("N", "validation images, the held-out split's first N, on which the rates are chosen"),
    "test": ("N", "test images per seed, from the test split: the report's figures"),
    "epochs": ("N", "passes over the adaptation samples"),
    "batch": ("N", "samples per training step"),
    "eval_every": ("N", "evaluate the held-out images every N samples"),
    "queries": ("N", "ZO perturbations per step and layer"),
    "rates": ("RATE,...", "learning rates tried for each model and method, on the validation images"),
    "tune_corruptions": ("NAMES", "corruptions the rates are tried on, with seed 0"),
    "lr": ("METHOD=RATE,...", "learning rates fixed rather than tuned, for every model or, as "
                              "MODEL/METHOD=RATE, for one: e.g. zo-wp=0.3,small/fqt=0.003"),
    "dataset": ("NAME", "dataset name"),
    "data_dir": ("DIR", "folder with the dataset's files"),
}


def add_parser(subparsers):
    defaults = study.Study()
    p = subparsers.add_parser(
        "experiment", help="the adaptation study: every method on every corruption, over seeds",
        description="Adapt the int8 models to each corruption with each method, over several seeds, on the "
                    "host simulation (the device package on CPython over the NumPy kernels, byte-identical "
                    "to a board), next to float back-propagation (the bound: every layer, Adam). Learning "
                    "rates are chosen on validation images first (--rates, --tune-corruptions), and the "
                    "report gives test images that no choice saw. Every finished cell is "
                    "saved at once in OUT/results.jsonl: run the same command again to resume an interrupted "
                    "study. Writes a Markdown report with the accuracy table, each method's cost (planned "
                    "memory, a step on the virtual board) and plots, and the table as CSV. Settings: a TOML "
                    "--config file of the names below (with underscores), then flags over it.",
        epilog="examples:\n"
               "  mcutrain experiment --config experiments/severity5.toml --out experiments/severity5 --report docs/results.md\n"
               "  mcutrain experiment --models tiny --corruptions fog,contrast --seeds 1 --samples 200\n"
               "  mcutrain experiment --list-methods",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", metavar="FILE", help="TOML file of study settings")
    for field, (metavar, text) in FIELDS.items():
        default = getattr(defaults, field)
        if isinstance(default, tuple) and field in ("corruptions", "methods"):
            default = "all"
        elif isinstance(default, tuple) and field != "lr":
            default = ",".join(f"{v:g}" if isinstance(v, float) else v for v in default)
        p.add_argument("--" + field.replace("_", "-"), metavar=metavar, help=f"{text} (default: {default or 'none'})")
    p.add_argument("--out", metavar="DIR", default=str(micropython.REPO / "runs" / "experiment"),
                   help="folder of the results, resumable (default: %(default)s)")
    p.add_argument("--report", metavar="FILE.md", help="where the Markdown report goes, its plots and CSV beside "
                                                       "it (default: OUT/results.md)")
    p.add_argument("--workers", type=positive_int, default=os.cpu_count(), metavar="N",
                   help="worker processes (default: %(default)s, the cores)")
    p.add_argument("--list-methods", action="store_true", help="list the methods and exit")
    p.set_defaults(run=run)


def settings_from(args):
    settings = study.load(args.config) if args.config else {}
    for field in FIELDS:
        value = getattr(args, field)
        if value is not None:
            settings[field] = value
    return settings


def run(args):
    if args.list_methods:
        for name, method in METHODS.items():
            rate = f"lr {method.lr:<5g}" if method.lr else " " * 8
            print(f"{name:<14} {rate} {method.title}")
        return 0
    try:
        the_study = study.make(settings_from(args))
    except ValueError as e:  # a TOML syntax error is one too
        print(f"mcutrain experiment: {e}", file=sys.stderr)
        return 2
    out = Path(args.out)
    command = shlex.join(["experiment", *sys.argv[2:]]) if sys.argv[1:2] == ["experiment"] else "experiment"
    try:
        the_study = runner.run(the_study, out, args.workers, command)
    except runner.StudyMismatch as e:
        print(f"mcutrain experiment: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\nmcutrain experiment: interrupted; {len(runner.results(out))} cells are saved in {out}: "
              "run the same command to go on", file=sys.stderr)
        return 130
    keys = {cell.key(*c) for c in runner.cells(the_study)}
    done = runner.results(out)
    records = [r for r in done.values() if r["key"] in keys]
    cost_path = out / "costs.json"
    known = json.loads(cost_path.read_text()) if cost_path.exists() else {}
    measured = costs.measure(the_study, records, known)
    cost_path.write_text(json.dumps({**known, **measured}, indent=1) + "\n")
    path = Path(args.report) if args.report else out / "results.md"
    headlines = report.write(path, the_study, records, measured, runner.sessions(out), done)
    for model, h in headlines.items():
        print(f"{model}: best ZO method {h['best_zo']} gains {report.points(h['best_zo_gain'])} points, "
              f"{report.percent(h['zo_fraction'])} of {BOUND}'s {report.points(h['float_gain'])}; "
              f"FQT 10%: {report.points(h['fqt10_gain'])}, {report.percent(h['fqt10_fraction'])}")
    print(f"report: {path} (table: {path.with_suffix('.csv')}); cells: {out}/results.jsonl")
    return 0
