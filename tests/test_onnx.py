"""ONNX in and out: graphs built with onnx.helper import to networks whose logits match
onnxruntime's; the built-in models go out and back unchanged; an int8 model file exported as
QDQ runs in onnxruntime close to the board's integers; unsupported graphs name their node."""

import re

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from mcutrain_host import cli, datasets, model_file, network, onnx_export, onnx_import
from mcutrain_host.commands.export import int8_logits, onnx_session
from mcutrain_host.onnx_import import OnnxError
from mcutrain_host.quantize import quantize
from model_cases import MODELS


def run_onnx(model, x):
    return onnx_session(model).run(None, {model.graph.input[0].name: x})[0]


class Builder:
    """A float ONNX graph, NCHW, with random weights; every node named after its output."""

    def __init__(self, c, h, w, seed=0):
        self.rng = np.random.default_rng(seed)
        self.nodes, self.constants, self.count = [], [], 0
        self.input = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", c, h, w])

    def const(self, value, dtype=np.float32):
        name = f"c{len(self.constants)}"
        self.constants.append(numpy_helper.from_array(np.asarray(value, dtype), name))
        return name

    def random(self, *shape, scale=0.3):
        return self.const(self.rng.standard_normal(shape) * scale)

    def node(self, op, inputs, **attrs):
        self.count += 1
        out = f"{op.lower()}{self.count}"
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def conv(self, x, c_in, c_out, k, stride=1, pad=None, group=1, bias=True):
        pad = k // 2 if pad is None else pad
        inputs = [x, self.random(c_out, c_in // group, k, k)] + ([self.random(c_out)] if bias else [])
        return self.node("Conv", inputs, kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4, group=group)

    def batch_norm(self, x, c):
        return self.node("BatchNormalization", [x, self.const(1 + 0.2 * self.rng.random(c)), self.random(c),
                                                 self.random(c), self.const(0.5 + self.rng.random(c))], epsilon=1e-3)

    def model(self, output):
        out = helper.make_tensor_value_info(output, TensorProto.FLOAT, None)
        graph = helper.make_graph(self.nodes, "test", [self.input], [out], self.constants)
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def every_op_graph():
    """Every op the importer maps, on a 3-channel non-square image, so that layouts must be right."""
    b = Builder(3, 11, 14)
    y = b.node("Relu", [b.batch_norm(b.conv("x", 3, 6, 3, bias=False), 6)])
    y = b.node("Clip", [b.conv(y, 6, 6, 3, stride=2, group=6), b.const(0), b.const(6)])
    block = b.node("Relu", [b.conv(y, 6, 6, 1)])
    y = b.node("Relu", [b.node("Add", [y, b.conv(block, 6, 6, 3)])])
    y = b.node("MaxPool", [y], kernel_shape=[2, 2], strides=[2, 2])
    y = b.node("Identity", [b.conv(y, 6, 5, 3, pad=0)])
    y = b.node("Flatten", [y])
    y = b.node("Relu", [b.node("Gemm", [y, b.random(8, 5 * 1 * 1), b.random(8)], transB=1)])
    y = b.node("Add", [b.node("MatMul", [y, b.random(8, 4)]), b.random(4)])
    return b.model(b.node("Softmax", [y]))


def test_imported_graphs_give_onnxruntimes_logits():
    x = np.random.default_rng(0).random((7, 3, 11, 14), np.float32)
    model = every_op_graph()
    net = onnx_import.from_graph(model.graph)
    assert [spec["op"] for spec in net.description] == [
        "conv2d", "depthwise_conv2d", "conv2d", "conv2d", "add", "max_pool", "conv2d", "fully_connected",
        "fully_connected"]
    logits = net.logits(x.transpose(0, 2, 3, 1))
    expected = run_onnx(model, x)
    # the final Softmax is dropped: the network gives the logits under it
    softmax = np.exp(logits - logits.max(axis=1, keepdims=True))
    np.testing.assert_allclose(softmax / softmax.sum(axis=1, keepdims=True), expected, atol=1e-5)

    b = Builder(2, 12, 12, seed=1)
    y = b.node("AveragePool", [b.node("Relu", [b.conv("x", 2, 4, 3)])], kernel_shape=[2, 2], strides=[2, 2])
    spatial = b.node("Gemm", [b.node("Flatten", [y]), b.random(4 * 6 * 6, 3)])  # columns in (c, h, w) order
    model = b.model(spatial)
    x = np.random.default_rng(1).random((5, 2, 12, 12), np.float32)
    np.testing.assert_allclose(onnx_import.from_graph(model.graph).logits(x.transpose(0, 2, 3, 1)),
                               run_onnx(model, x), atol=1e-5)

    b = Builder(2, 12, 12, seed=2)
    y = b.node("GlobalAveragePool", [b.node("Relu", [b.conv("x", 2, 4, 3)])])
    y = b.node("Reshape", [y, b.const([-1, 4], np.int64)])
    model = b.model(b.node("Gemm", [y, b.random(3, 4)], transB=1))
    np.testing.assert_allclose(onnx_import.from_graph(model.graph).logits(x.transpose(0, 2, 3, 1)),
                               run_onnx(model, x), atol=1e-5)

    b = Builder(2, 12, 12, seed=3)  # PyTorch's AdaptiveAvgPool2d(1) in its opset 18+ exports
    y = b.node("ReduceMean", [b.node("Relu", [b.conv("x", 2, 4, 3)])], axes=[-2, -1], keepdims=0)
    model = b.model(b.node("Gemm", [y, b.random(3, 4)], transB=1))
    np.testing.assert_allclose(onnx_import.from_graph(model.graph).logits(x.transpose(0, 2, 3, 1)),
                               run_onnx(model, x), atol=1e-5)


@pytest.mark.parametrize("name", ["tiny", "small", "medium"])
def test_built_in_models_go_out_to_onnx_and_back_unchanged(name):
    net = network.load(MODELS / f"{name}-float.npz")
    model = onnx_export.float_model(net)
    back = onnx_import.from_graph(model.graph)
    assert back.description == net.description and back.input_shape == net.input_shape
    for ours, theirs in zip(net.layers, back.layers):
        for key, value in ours.export().items():
            assert theirs.export()[key].tobytes() == value.tobytes(), key
    x = np.random.default_rng(0).random((4, *net.input_shape), np.float32)
    np.testing.assert_allclose(run_onnx(model, x.transpose(0, 3, 1, 2)), net.logits(x), atol=1e-4)


@pytest.mark.parametrize("name, steps", [("tiny", 1), ("small", 4)])
def test_int8_export_runs_in_onnxruntime_close_to_the_boards_integers(name, steps, fashion_test_images):
    images = fashion_test_images[:500]
    model = onnx_export.int8_model(model_file.read(MODELS / f"{name}.mcut"))
    ours, scale, zero_point = int8_logits(str(MODELS / f"{name}.mcut"), images)
    theirs = run_onnx(model, network.to_float(images).transpose(0, 3, 1, 2))
    differences = np.abs(ours - (np.round(theirs / scale) + zero_point))
    assert differences.max() <= steps
    assert (ours.argmax(axis=1) == theirs.argmax(axis=1)).mean() >= 0.99


@pytest.fixture(scope="module")
def fashion_test_images():
    return datasets.load("fashion-mnist", "test")[0]


def test_an_imported_graph_quantizes_into_a_valid_model_file(tmp_path):
    net = onnx_import.from_graph(every_op_graph().graph)
    images = np.random.default_rng(0).integers(0, 256, (64, 11, 14, 3), dtype=np.uint8)
    model_file.write(tmp_path / "m.mcut", quantize(net, images))
    assert model_file.read(tmp_path / "m.mcut").input_shape == (11, 14, 3)


def unsupported(builder_step):
    b = Builder(1, 8, 8)
    return b.model(builder_step(b))


@pytest.mark.parametrize("make, message", [
    (lambda b: b.node("Sigmoid", [b.conv("x", 1, 2, 3)]), "'sigmoid2' (Sigmoid): op not supported"),
    (lambda b: b.node("Add", [b.conv("x", 1, 2, 3, stride=2, pad=0), b.conv("x", 1, 2, 3, stride=2, pad=0)]),
     "'conv2' (Conv): reads a tensor other than the previous layer's output"),
    (lambda b: b.node("Conv", ["x", b.random(2, 1, 3, 3)], kernel_shape=[3, 3], strides=[2, 2], pads=[0, 0, 1, 1]),
     "'conv1' (Conv): padding [0, 0, 1, 1]"),
    (lambda b: b.node("Conv", [b.conv("x", 1, 2, 3), "x"], kernel_shape=[3, 3]),
     "'conv2' (Conv): its weight 'x' is computed"),
    (lambda b: b.node("MaxPool", [b.conv("x", 1, 2, 3)], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
     "'maxpool2' (MaxPool): only unpadded pooling"),
])
def test_unsupported_graphs_name_the_node_and_the_reason(make, message):
    with pytest.raises(OnnxError, match=re.escape(message)):
        onnx_import.from_graph(unsupported(make).graph)


def test_cli_exports_imports_and_checks(tmp_path, capsys):
    assert cli.main(["export", str(MODELS / "tiny-float.npz"), "-o", str(tmp_path / "t.onnx")]) == 0
    assert cli.main(["import", str(tmp_path / "t.onnx"), "-o", str(tmp_path / "t.npz")]) == 0
    assert "8778 parameters" in capsys.readouterr().out
    assert cli.main(["export", str(MODELS / "tiny.mcut"), "-o", str(tmp_path / "q.onnx"), "--check", "200"]) == 0
    assert "same class for 200/200" in capsys.readouterr().out
    onnx.checker.check_model(onnx.load(tmp_path / "q.onnx"))
    (tmp_path / "bad.onnx").write_bytes(b"not a protobuf at all")
    assert cli.main(["import", str(tmp_path / "bad.onnx"), "-o", str(tmp_path / "x.npz")]) == 1
    assert "not an ONNX model" in capsys.readouterr().err
    assert cli.main(["import", str(tmp_path / "q.onnx"), "-o", str(tmp_path / "x.npz")]) == 1
    assert "(QuantizeLinear): op not supported" in capsys.readouterr().err
