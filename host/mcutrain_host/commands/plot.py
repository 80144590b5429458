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
    end = [r for r in records if r["event"] == "end"]
    title = None
    if end:
        e = end[-1]
        title = f"{e.get('corruption')} (severity {e.get('severity')}), {e['settings'].get('method')}"
    try:
        plot.curves(records, output, title)
    except ValueError as e:  # a run that ended before its first step or evaluation
        print(f"mcutrain plot: {source}: {e}", file=sys.stderr)
        return 1
    print(f"wrote {output}")
    return 0
