"""mcutrain plot: PNG curves from a run's metrics.jsonl."""

import sys
from pathlib import Path

from mcutrain_host import metrics, plot


def add_parser(subparsers):
    p = subparsers.add_parser(
        "plot", help="accuracy and loss curves (PNG) from a run's metrics",
        description="Draw held-out accuracy and training loss against training samples from the "
                    "metrics.jsonl a `mcutrain train` run wrote, with live setting changes and "
                    "reconnections marked.",
        epilog="example: mcutrain plot runs/20261122-101500/metrics.jsonl -o curves.png")
    p.add_argument("metrics", help="a metrics.jsonl, or the run folder holding it")
    p.add_argument("-o", "--output", help="PNG to write (default: curves.png beside the metrics)")
    p.set_defaults(run=run)


def run(args):
    source = Path(args.metrics)
    if source.is_dir():
        source = source / "metrics.jsonl"
    records = metrics.load(source)
    output = Path(args.output) if args.output else source.with_name("curves.png")
    # The end record says what the run was; an interrupted run's start record says it too.
    described = [r.get("arguments", r) for r in records if r["event"] in ("start", "end")]
    settings = metrics.settings_at_end(records)
    title = None
    if described:
        title = (f"{described[-1].get('corruption')} (severity {described[-1].get('severity')}), "
                 f"{settings.get('method')}")
    try:
        plot.curves(records, output, title)
    except ValueError as e:  # a run that ended before its first step or evaluation
        print(f"mcutrain plot: {source}: {e}", file=sys.stderr)
        return 1
    print(f"wrote {output}")
    return 0
