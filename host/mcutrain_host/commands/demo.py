"""mcutrain demo: the main job on the virtual board, end to end, over the serial link.

The committed int8 tiny meets images it was not trained for (Fashion-MNIST with strong gaussian
noise), is started on the virtual board (MicroPython's unix port with an RP2040-sized heap and the
qnn natmod), and adapts there to samples streamed over the link; accuracy on held-out noisy images
before and after, and a plot. It is `mcutrain train` with the demo's defaults.
"""

import argparse

from mcutrain_host.commands import train


def add_parser(subparsers):
    p = subparsers.add_parser(
        "demo", help="adapt the committed int8 model to noisy images on the virtual board",
        description="Start the virtual board with the committed int8 tiny, measure its accuracy on noisy "
                    "held-out images, stream noisy samples to it over the serial link while it adapts "
                    "(zeroth-order training by default: node perturbation of the last two weighted "
                    "layers), measure again and plot. `make demo` runs this; every `mcutrain train` option "
                    "works here too.",
        epilog="examples:\n  mcutrain demo\n  mcutrain demo --method fqt\n"
               "  mcutrain demo --layers all --mode mix --queries 10 --noise 80",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    train.add_training_arguments(p)
    p.set_defaults(run=run, corruption="none", noise=100.0, epochs=2, eval_every=500)


def run(args):
    summary = train.adapt(args)
    train.print_summary(summary)
    return 0 if summary["checksum"] == summary["expected_checksum"] else 1
