"""mcutrain pretrain: float training of a model description in NumPy."""

import time

from mcutrain_host import architectures, datasets, training
from mcutrain_host.commands import add_dataset_arguments, positive_int
from mcutrain_host.network import Network


def add_parser(subparsers):
    p = subparsers.add_parser(
        "pretrain", help="train a float model from scratch (NumPy, deterministic for a seed)",
        description="Train a float model from scratch on a dataset's train split, printing a progress bar "
                    "and held-out accuracy per epoch; batch norm is folded into the weights of the saved "
                    ".npz, which `mcutrain quantize` turns into an int8 model file.",
        epilog="example: mcutrain pretrain --model small --epochs 12 -o models/small-float.npz")
    p.add_argument("--model", choices=sorted(architectures.ARCHITECTURES), default="tiny",
                   help="model description, see mcutrain_host/architectures.py (default: %(default)s)")
    add_dataset_arguments(p, "train")
    p.add_argument("--epochs", type=positive_int, default=8, help="passes over the data (default: %(default)s)")
    p.add_argument("--batch-size", type=positive_int, default=128, help="default: %(default)s")
    p.add_argument("--lr", type=float, default=3e-3,
                   help="Adam's initial learning rate, decayed to 0 on a cosine (default: %(default)s)")
    p.add_argument("--seed", type=int, default=1, help="seeds initialisation and shuffling (default: %(default)s)")
    p.add_argument("-o", "--output", required=True, help="the float model to write (.npz)")
    p.set_defaults(run=run)


def run(args):
    images, labels = datasets.load(args.dataset, args.split, args.data_dir, args.resize)
    heldout = datasets.load(args.dataset, "heldout", args.data_dir, args.resize) if args.split == "train" else None
    classes = int(labels.max()) + 1
    network = Network(architectures.ARCHITECTURES[args.model](classes), images.shape[1:], seed=args.seed)
    print(f"{args.model}: {network.parameter_count()} parameters, {len(images)} {args.dataset} {args.split} images")
    start = time.monotonic()
    training.train(network, images, labels, args.epochs, args.batch_size, args.lr, args.seed, heldout)
    print(f"trained in {time.monotonic() - start:.0f} s")
    network.save(args.output)
    print(f"wrote {args.output}")
    return 0
