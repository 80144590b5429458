"""mcutrain quantize: int8 post-training quantization of a float model into a model file."""

from pathlib import Path

from mcutrain_host import datasets, model_file, network
from mcutrain_host.commands import add_dataset_arguments, positive_int
from mcutrain_host.quantize import quantize


def add_parser(subparsers):
    p = subparsers.add_parser(
        "quantize", help="turn a float .npz into an int8 model file for the board",
        description="Quantize a float model: int8 weights per output channel, int32 bias, per-tensor "
                    "activation scales calibrated on held-out training images, and the kernels' "
                    "requantization multipliers. Writes the model file of docs/model-format.md.",
        epilog="example: mcutrain quantize models/tiny-float.npz -o models/tiny.mcut")
    p.add_argument("float_model", help="a .npz from `mcutrain pretrain`")
    add_dataset_arguments(p, "heldout")
    p.add_argument("--calibration", type=positive_int, default=2000,
                   help="calibration images, the first of the split (default: %(default)s)")
    p.add_argument("-o", "--output", required=True, help="the model file to write (.mcut)")
    p.set_defaults(run=run)


def run(args):
    float_model = network.load(args.float_model)
    images, _ = datasets.load(args.dataset, args.split, args.data_dir, args.resize)
    model = quantize(float_model, images[:args.calibration])
    model_file.write(args.output, model)
    print(f"wrote {args.output}: {len(model.layers)} layers, {Path(args.output).stat().st_size} bytes, "
          f"calibrated on {min(args.calibration, len(images))} {args.dataset} {args.split} images")
    return 0
