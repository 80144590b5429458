"""mcutrain import: an ONNX model as the float .npz that `mcutrain quantize` takes."""

import argparse

from mcutrain_host import onnx_import


def add_parser(subparsers):
    p = subparsers.add_parser(
        "import", help="read a float ONNX model (from PyTorch, say) into a float .npz",
        description="Read a float ONNX model into the float .npz that `mcutrain quantize` turns into an int8 "
                    "model file. Supported: Conv (groups for depthwise), Gemm/MatMul, Relu, Clip (ReLU6), "
                    "MaxPool, AveragePool, GlobalAveragePool (or ReduceMean over height and width), Add "
                    "(residuals, biases), Flatten/Reshape, BatchNormalization (folded), Identity, Dropout "
                    "and a final Softmax (dropped: the board trains on logits). The model takes NCHW "
                    "images as floats in [0, 1] (pixel / 255); layouts become NHWC. Each layer reads the "
                    "one before it; an Add may also read an earlier tensor. An unsupported node gets an "
                    "error naming it (docs/onnx.md). Needs the onnx package: pip install 'mcutrain[onnx]'.",
        epilog="example (a model from torch.onnx.export, as in the README's \"Your own model\"):\n"
               "  mcutrain import model.onnx -o model.npz\n"
               "  mcutrain quantize model.npz --dataset folder:photos --resize 32x32 -o model.mcut",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("onnx_model", help="a float ONNX file")
    p.add_argument("-o", "--output", required=True, help="the float model to write (.npz)")
    p.set_defaults(run=run)


def run(args):
    network = onnx_import.load(args.onnx_model)
    network.save(args.output)
    h, w, c = network.input_shape
    ops = ", ".join(spec["op"] for spec in network.description)
    print(f"wrote {args.output}: {h}x{w}x{c} input, {len(network.layers)} layers ({ops}), "
          f"{network.parameter_count()} parameters, {network.shapes[-1][-1]} outputs")
    return 0
