"""mcutrain export: a float .npz or an int8 model file as an ONNX model."""

import argparse

import numpy as np

from mcutrain import model as device_model
from mcutrain.model_file import ModelError
from mcutrain_host import adaptation_data, datasets, model_file, network, onnx_export
from mcutrain_host.commands import add_dataset_arguments, positive_int
from mcutrain_host.quantize import quantize_images


def add_parser(subparsers):
    p = subparsers.add_parser(
        "export", help="write a float .npz or an int8 model file (an adapted one too) as ONNX",
        description="Write a model as ONNX (opset 13), taking NCHW images as floats in [0, 1] and giving "
                    "the logits. A float .npz becomes a float graph that `mcutrain import` reads back "
                    "unchanged. An int8 model file becomes a QDQ graph (QuantizeLinear/DequantizeLinear "
                    "around float ops) holding the file's integers; onnxruntime rounds in float where the "
                    "board rounds in integers, so its logits can differ from the board's by a few steps: "
                    "--check N measures that on N images. Needs the onnx package: pip install "
                    "'mcutrain[onnx]' (--check: 'mcutrain[onnx,onnxruntime]').",
        epilog="examples:\n  mcutrain export models/tiny.mcut -o tiny-int8.onnx --check 1000\n"
               "  mcutrain export models/tiny-float.npz -o tiny.onnx",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="a float .npz or an int8 model file")
    p.add_argument("-o", "--output", required=True, help="the ONNX file to write")
    p.add_argument("--check", type=positive_int, metavar="N",
                   help="run the ONNX model in onnxruntime on N images and compare it with the host's "
                        "runtime (for int8, the board's integers)")
    add_dataset_arguments(p, "test")
    p.set_defaults(run=run)


def run(args):
    if args.model.endswith(".npz"):
        float_model = network.load(args.model)
        onnx_model, input_shape = onnx_export.float_model(float_model), float_model.input_shape
    else:
        int8_model = model_file.read(args.model)
        onnx_model, input_shape = onnx_export.int8_model(int8_model), int8_model.input_shape
    with open(args.output, "wb") as f:
        f.write(onnx_model.SerializeToString())
    kind = "float" if args.model.endswith(".npz") else "int8 QDQ"
    print(f"wrote {args.output}: {kind} ONNX, opset {onnx_export.OPSET}, input [N, {input_shape[2]}, "
          f"{input_shape[0]}, {input_shape[1]}] in [0, 1]")
    if args.check:
        images, _ = datasets.load(args.dataset, args.split, args.data_dir, args.resize)
        images = images[:args.check]
        adaptation_data.check_shape(images, input_shape)
        print(compare(args.model, onnx_model, images) + f" on {len(images)} {args.dataset} {args.split} images")
    return 0


def onnx_session(onnx_model):
    """An onnxruntime session that runs the graph as written. With its graph optimizations,
    onnxruntime fuses the int8 export's QuantizeLinear/DequantizeLinear pairs into int8 kernels
    of its own whose results depend on the CPU: on an AVX2 machine without VNNI, up to 4 int8
    steps from the board's logits on `tiny` where the graph as written, the ONNX semantics in
    float32, stays within 1."""
    try:
        import onnxruntime
    except ModuleNotFoundError:
        raise ModelError("--check needs onnxruntime: pip install onnxruntime") from None
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    return onnxruntime.InferenceSession(onnx_model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def onnx_logits(onnx_model, images):
    return onnx_session(onnx_model).run(None, {"image": network.to_float(images).transpose(0, 3, 1, 2)})[0]


def compare(path, onnx_model, images):
    """One line: how closely onnxruntime's logits follow the host runtime's on these images."""
    theirs = onnx_logits(onnx_model, images).reshape(len(images), -1)
    if path.endswith(".npz"):
        ours = network.load(path).logits(network.to_float(images))
        return (f"onnxruntime vs NumPy: same class for {agreement(ours, theirs)}, logits within "
                f"{np.abs(ours - theirs).max():.2g}")
    ours, scale, zero_point = int8_logits(path, images)
    steps = np.abs(ours - (np.round(theirs / scale) + zero_point)).astype(int)
    return (f"onnxruntime vs the board's integers: same class for {agreement(ours, theirs)}, logits at most "
            f"{steps.max()} int8 step(s) apart ({100 * (steps > 0).mean():.1f}% of them differ)")


def agreement(ours, theirs):
    same = int((ours.argmax(axis=1) == theirs.argmax(axis=1)).sum())
    return f"{same}/{len(ours)} ({100 * same / len(ours):.1f}%)"


def int8_logits(path, images, batch=500):
    """The int8 logits the device runtime gives on the NumPy reference kernels, and their (scale, zp)."""
    model = device_model.load(path)
    d = model.description
    x = quantize_images(images, d.input_scale, d.input_zero_point).reshape(len(images), -1)
    logits = []
    for start in range(0, len(x), batch):
        chunk = x[start:start + batch]
        model.plan(batch=len(chunk))
        logits.append(np.frombuffer(bytes(model.infer(chunk.reshape(-1))), np.int8).reshape(len(chunk), -1))
    last = d.layers[-1]
    return np.concatenate(logits).astype(np.int64), last.scale, last.zero_point
