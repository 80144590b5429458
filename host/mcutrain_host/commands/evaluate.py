"""mcutrain eval: accuracy of a float (.npz) or int8 (model file) model on a dataset split, on
the host or on a board."""

import argparse
import sys
import tempfile

import numpy as np

from mcutrain import model as device_model
from mcutrain_host import adaptation_data, corruptions, datasets, network
from mcutrain_host.board import ports
from mcutrain_host.commands import add_dataset_arguments, positive_int
from mcutrain_host.board.deploy import DeployError
from mcutrain_host.board.link import BoardError, LinkDown
from mcutrain_host.quantize import quantize_images
from mcutrain_host.board.session import evaluate_on_board


def add_parser(subparsers):
    p = subparsers.add_parser(
        "eval", help="accuracy of a float or int8 model on a dataset split, on the host or a board",
        description="Classify a dataset split (optionally corrupted) and print the accuracy. A .npz is run "
                    "in float; any other file is loaded as an int8 model file and run by the device "
                    "runtime on the NumPy reference kernels: the same integers the board computes. With "
                    "--port the int8 model runs on the board instead, the images streamed over the link.",
        epilog="examples:\n  mcutrain eval models/tiny.mcut --split test\n"
               "  mcutrain eval models/tiny.mcut --port sim --corruption fog --severity 5 --count 500",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="a float .npz or an int8 model file")
    add_dataset_arguments(p, "test")
    p.add_argument("--corruption", default="none", choices=("none",) + corruptions.NAMES, metavar="NAME",
                   help="corrupt the images first (`mcutrain corrupt --list`; default: %(default)s)")
    p.add_argument("--severity", type=int, default=5, choices=range(1, 6), metavar="1-5",
                   help="corruption severity (default: %(default)s)")
    p.add_argument("--count", type=positive_int, help="the first N images only (default: all)")
    p.add_argument("--batch", type=positive_int, default=500,
                   help="images per forward pass; on a board, per planned batch (default: %(default)s, "
                        "on a board 1)")
    p.add_argument("--port", help="run on this board (sim, sim-pty or a serial device) instead of the host")
    p.add_argument("--heap", default="256K", help="the virtual board's heap (default: %(default)s)")
    p.set_defaults(run=run)


def run(args):
    images, labels = datasets.load(args.dataset, args.split, args.data_dir, args.resize)
    if args.count:
        images, labels = images[:args.count], labels[:args.count]
    if args.corruption != "none":
        images = corruptions.corrupt(images, args.corruption, args.severity, 0)
    where = ""
    if args.model.endswith(".npz"):
        if args.port:
            print("mcutrain eval: a board runs int8 model files, not float .npz", file=sys.stderr)
            return 2
        kind = "float"
        float_model = network.load(args.model)
        adaptation_data.check_shape(images, float_model.input_shape)
        correct = int((float_model.predict(images, args.batch) == labels).sum())
    else:
        kind = "int8"
        model = device_model.load(args.model)
        d = model.description
        adaptation_data.check_shape(images, d.input_shape)
        x = quantize_images(images, d.input_scale, d.input_zero_point).reshape(len(labels), -1)
        if args.port:
            try:
                correct, total, board = on_board(args, model, x, labels)
            except (DeployError, BoardError, LinkDown) as e:
                print(f"mcutrain eval: {e}", file=sys.stderr)
                return 1
            labels = labels[:total]
            where = f" on the board ({board.get('board')}, {board.get('kernels')} kernels)"
        else:
            model.plan(batch=args.batch)
            correct = model.evaluate(x.reshape(-1), np.ascontiguousarray(labels))
    corrupted = "" if args.corruption == "none" else f", {args.corruption} severity {args.severity}"
    print(f"{args.model} ({kind}) on {args.dataset} {args.split}{corrupted}: {correct}/{len(labels)} = "
          f"{100 * correct / len(labels):.2f}%{where}")
    return 0


def on_board(args, model, x, labels):
    last = [layer.index for layer in model.layers if layer.weight is not None][-1]
    settings = {"batch": 1, "layers": [last]}
    with tempfile.TemporaryDirectory() as run_dir:
        connect = ports.connector(args, args.model, run_dir, settings)
        return evaluate_on_board(connect, [row.tobytes() for row in x], labels, last)
