"""mcutrain eval: accuracy of a float (.npz) or int8 (model file) model on a dataset split."""

import numpy as np

from mcutrain import model as device_model
from mcutrain_host import datasets, network
from mcutrain_host.commands import add_dataset_arguments, positive_int
from mcutrain_host.quantize import quantize_images


def add_parser(subparsers):
    p = subparsers.add_parser(
        "eval", help="accuracy of a float or int8 model on a dataset split",
        description="Classify a dataset split and print the accuracy. A .npz is run in float; any other "
                    "file is loaded as an int8 model file and run by the device runtime on the NumPy "
                    "reference kernels: the same integers the board computes.",
        epilog="example: mcutrain eval models/tiny.mcut --split test")
    p.add_argument("model", help="a float .npz or an int8 model file")
    add_dataset_arguments(p, "test")
    p.add_argument("--batch", type=positive_int, default=500, help="images per forward pass (default: %(default)s)")
    p.set_defaults(run=run)


def run(args):
    images, labels = datasets.load(args.dataset, args.split, args.data_dir)
    if args.model.endswith(".npz"):
        kind = "float"
        correct = int((network.load(args.model).predict(images, args.batch) == labels).sum())
    else:
        kind = "int8"
        model = device_model.load(args.model)
        model.plan(batch=args.batch)
        d = model.description
        correct = model.evaluate(quantize_images(images, d.input_scale, d.input_zero_point).reshape(-1),
                                 np.ascontiguousarray(labels))
    print(f"{args.model} ({kind}) on {args.dataset} {args.split}: {correct}/{len(labels)} = "
          f"{100 * correct / len(labels):.2f}%")
    return 0
