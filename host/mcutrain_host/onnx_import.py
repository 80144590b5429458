"""An ONNX graph (float, NCHW) as the float network `mcutrain quantize` takes.

mcutrain's models are chains: each layer reads the layer before it, and an Add may also read
an earlier tensor (a residual). The importer walks the graph's nodes in order and maps each
onto a layer spec (mcutrain_host/architectures.py) or folds it into the layer before it:
BatchNormalization into the convolution's weights, Relu and Clip(0, 6) into its "act", an
Add of a constant into its bias. NCHW becomes NHWC, and a fully connected layer behind a
Flatten has its columns reordered from (c, h, w) to the kernels' (h, w, c). The network's
input is the image as floats in [0, 1] (pixel / 255), as for the built-in models.
"""

import numpy as np

from mcutrain.model_file import ModelError
from mcutrain_host.network import Network

PASS_THROUGH = ("Identity", "Dropout")
FINAL_ONLY = ("Softmax", "LogSoftmax")  # argmax and the trainers' loss read the logits before them


class OnnxError(ModelError):
    """The graph has a node mcutrain cannot map; the message names the node, its op and why."""


def load(path):
    """The Network of the ONNX file at path (the onnx package is an optional extra)."""
    try:
        import onnx
    except ModuleNotFoundError:
        raise OnnxError("reading ONNX needs the onnx package: pip install 'mcutrain[onnx]'") from None
    try:
        model = onnx.load(path)
    except Exception as e:  # onnx raises DecodeError and others for a damaged file
        raise OnnxError(f"{path}: not an ONNX model ({e})") from e
    return from_graph(model.graph)


def from_graph(graph):
    from onnx import numpy_helper
    constants = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant":
            constants[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    inputs = [i for i in graph.input if i.name not in constants]
    if len(inputs) != 1:
        raise OnnxError(f"the graph has {len(inputs)} inputs; mcutrain models take one image")
    return Importer(graph, constants, inputs[0]).network()


def attributes(node):
    from onnx import helper
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


class Importer:
    def __init__(self, graph, constants, image):
        dims = [d.dim_value for d in image.type.tensor_type.shape.dim]
        if len(dims) != 4 or not all(dims[1:]):
            raise OnnxError(f"input {image.name!r} has shape {dims}; expected [N, C, H, W] with fixed C, H, W")
        self.graph, self.constants = graph, constants
        self.input_shape = (dims[2], dims[3], dims[1])
        self.description, self.weights = [], []
        # ONNX tensor name -> mcutrain tensor index (0 the image, i + 1 the output of layer i)
        self.tensor = {image.name: 0}
        self.flat = set()  # ONNX names of flattened tensors, which only a fully connected layer may read
        self.consumers = {}
        for node in graph.node:
            for name in node.input:
                self.consumers[name] = self.consumers.get(name, 0) + 1
        self.final = False

    def network(self):
        for node in self.graph.node:
            if node.op_type != "Constant":
                self.convert(node)
        outputs = [o.name for o in self.graph.output]
        if len(outputs) != 1 or self.tensor.get(outputs[0]) != len(self.description):
            raise OnnxError(f"graph outputs {outputs}: expected one, the last layer's output")
        if not self.description:
            raise OnnxError("the graph has no layers")
        network = Network(self.description, self.input_shape, batch_norm=False)
        for layer, (weight, bias) in zip(network.layers, self.weights):
            if weight is not None:
                layer.params = {"weight": weight.astype(np.float32), "bias": bias.astype(np.float32)}
        return network

    def fail(self, node, reason):
        raise OnnxError(f"node {node.name or node.output[0]!r} ({node.op_type}): {reason}")

    def convert(self, node):
        if self.final:
            self.fail(node, "follows a final Softmax; only the logits' outputs may")
        op = node.op_type
        handler = getattr(self, "on_" + op, None)
        if op in PASS_THROUGH:
            self.alias(node, node.input[0])
        elif op in FINAL_ONLY:
            self.alias(node, node.input[0])
            self.final = True
        elif handler is None:
            self.fail(node, "op not supported (mcutrain imports Conv, Gemm, MatMul, Relu, Clip, MaxPool, "
                            "AveragePool, GlobalAveragePool, ReduceMean, Add, Flatten, Reshape, "
                            "BatchNormalization)")
        else:
            handler(node, attributes(node))

    # -- the tensors a node reads and writes

    def alias(self, node, name):
        index = self.read(node, name)
        self.tensor[node.output[0]] = index
        if name in self.flat:
            self.flat.add(node.output[0])

    def read(self, node, name):
        if name not in self.tensor:
            self.fail(node, f"reads {name!r}, which is neither the image nor an imported layer's output")
        return self.tensor[name]

    def read_latest(self, node, name):
        """The tensor index of `name`, which must be the newest layer's output (models are chains)."""
        index = self.read(node, name)
        if index != len(self.description):
            self.fail(node, "reads a tensor other than the previous layer's output; mcutrain models are "
                            "chains whose only branches are residual Adds")
        return index

    def constant(self, node, name, what):
        if name not in self.constants:
            self.fail(node, f"its {what} {name!r} is computed; it must be a constant (an initializer)")
        return self.constants[name].astype(np.float64)

    def shape(self):
        """(h, w, c) of the newest tensor."""
        return Network(self.description, self.input_shape, batch_norm=False).shapes[-1] if self.description \
            else self.input_shape

    def append(self, node, spec, weight=None, bias=None):
        self.description.append(spec)
        self.weights.append((weight, bias))
        self.tensor[node.output[0]] = len(self.description)

    def last_layer_of(self, node, what):
        """The spec index of the layer whose output node reads, if `what` can fold into it."""
        name = node.input[0]
        index = self.read_latest(node, name) - 1
        if index < 0:
            self.fail(node, f"applies {what} to the image; it must follow a layer")
        if self.consumers.get(name, 0) > 1:
            self.fail(node, f"{what} on a tensor that other nodes read too; mcutrain fuses {what} into the "
                            "layer before it")
        return index

    # -- one handler per op

    def on_Conv(self, node, attrs):
        self.read_latest(node, node.input[0])
        weight = self.constant(node, node.input[1], "weight")
        bias = self.constant(node, node.input[2], "bias") if len(node.input) > 2 and node.input[2] else \
            np.zeros(len(weight))
        in_h, in_w, channels = self.shape()
        out_c, per_group, k_h, k_w = weight.shape
        group = attrs.get("group", 1)
        if k_h != k_w:
            self.fail(node, f"kernel {k_h}x{k_w} is not square")
        if any(d != 1 for d in attrs.get("dilations", [1, 1])):
            self.fail(node, "dilated convolutions are not supported")
        stride = self.square(node, attrs.get("strides", [1, 1]), "strides")
        pad = self.padding(node, attrs, (in_h, in_w), k_h, stride)
        if group == 1:
            spec = {"op": "conv2d", "filters": out_c, "kernel": k_h, "stride": stride, "act": "none"}
            weight = weight.transpose(0, 2, 3, 1)  # OIHW -> OHWI
        elif group == channels and per_group == 1 and out_c == channels:
            spec = {"op": "depthwise_conv2d", "kernel": k_h, "stride": stride, "act": "none"}
            weight = weight[:, 0].transpose(1, 2, 0)  # [c, 1, k, k] -> [k, k, c]
        else:
            self.fail(node, f"group {group} of {channels} channels into {out_c}: only 1 (conv) or depthwise "
                            "with one filter per channel are supported")
        if pad != (k_h - 1) // 2:
            spec["pad"] = pad
        self.append(node, spec, weight, bias)

    def square(self, node, pair, name):
        if len(set(pair)) != 1:
            self.fail(node, f"{name} {list(pair)} differ between height and width")
        return int(pair[0])

    def padding(self, node, attrs, in_hw, kernel, stride):
        """The top/left padding that gives this node's output, with the kernels' implicit bottom/right."""
        auto = attrs.get("auto_pad", b"NOTSET")
        auto = auto.decode() if isinstance(auto, bytes) else auto
        if auto in ("SAME_UPPER", "SAME_LOWER"):
            outs = [-(-size // stride) for size in in_hw]
            totals = [max(0, (out - 1) * stride + kernel - size) for out, size in zip(outs, in_hw)]
            before = [t // 2 if auto == "SAME_UPPER" else t - t // 2 for t in totals]
            pads = before + [t - b for t, b in zip(totals, before)]
        elif auto == "VALID":
            pads = [0, 0, 0, 0]
        else:
            pads = list(attrs.get("pads", [0, 0, 0, 0]))
        top = pads[0]
        for size, before, after in zip(in_hw, pads[:2], pads[2:]):
            onnx_out = (size + before + after - kernel) // stride + 1
            ours = (size + 2 * top - kernel) // stride + 1
            if before != top or top > (kernel - 1) // 2 or onnx_out != ours:
                self.fail(node, f"padding {pads} (top, left, bottom, right): the kernels pad top and left by "
                                f"the same p <= (k - 1) / 2 and give (in + 2p - k) // stride + 1 outputs; "
                                "pad symmetrically (PyTorch: padding=k // 2 or 0)")
        return top

    def on_Gemm(self, node, attrs):
        if attrs.get("transA", 0):
            self.fail(node, "transA is not supported")
        if attrs.get("alpha", 1.0) != 1.0 or attrs.get("beta", 1.0) != 1.0:
            self.fail(node, "alpha and beta must be 1")
        weight = self.constant(node, node.input[1], "weight")
        if not attrs.get("transB", 0):
            weight = weight.T
        bias = self.constant(node, node.input[2], "bias") if len(node.input) > 2 and node.input[2] else \
            np.zeros(len(weight))
        self.dense(node, weight, np.broadcast_to(bias, (len(weight),)))

    def on_MatMul(self, node, attrs):
        weight = self.constant(node, node.input[1], "weight").T
        self.dense(node, weight, np.zeros(len(weight)))

    def dense(self, node, weight, bias):
        self.read_latest(node, node.input[0])
        h, w, c = self.shape()
        if node.input[0] not in self.flat and h * w > 1:
            self.fail(node, "reads an image-shaped tensor; Flatten it first")
        if weight.shape[1] != h * w * c:
            self.fail(node, f"weight has {weight.shape[1]} inputs for a tensor of {h * w * c} values")
        # ONNX flattens (c, h, w); the kernels read NHWC, so columns move to (h, w, c) order.
        weight = weight.reshape(len(weight), c, h, w).transpose(0, 2, 3, 1).reshape(len(weight), -1)
        self.append(node, {"op": "fully_connected", "units": len(weight), "act": "none"}, weight, bias)
        self.flat.add(node.output[0])

    def on_Flatten(self, node, attrs):
        if attrs.get("axis", 1) != 1:
            self.fail(node, "only axis 1 (keep the batch) is supported")
        self.alias(node, node.input[0])
        self.flat.add(node.output[0])

    def on_Reshape(self, node, attrs):
        target = self.constant(node, node.input[1], "shape")
        self.read_latest(node, node.input[0])
        h, w, c = self.shape()
        if len(target) != 2 or target[1] not in (-1, h * w * c):
            self.fail(node, f"reshape to {target.astype(int).tolist()}: only flattening to [N, -1] is supported")
        self.on_Flatten(node, {})

    def on_Relu(self, node, attrs):
        self.activation(node, "relu")

    def on_Clip(self, node, attrs):
        bounds = [attrs.get("min"), attrs.get("max")]
        for i, name in enumerate(node.input[1:3]):
            if name:
                bounds[i] = float(self.constant(node, name, "bound"))
        if bounds == [0.0, 6.0]:
            self.activation(node, "relu6")
        elif bounds[0] == 0.0 and bounds[1] is None:
            self.activation(node, "relu")
        else:
            self.fail(node, f"Clip to {bounds}: only ReLU (0, none) and ReLU6 (0, 6) are supported")

    def activation(self, node, act):
        index = self.last_layer_of(node, act)
        spec = self.description[index]
        if spec.get("act", "none") != "none" or spec["op"] not in (
                "conv2d", "depthwise_conv2d", "fully_connected", "add"):
            self.fail(node, f"follows {spec['op']} (act {spec.get('act', 'none')}); an activation must follow "
                            "a convolution, a fully connected layer or an Add")
        spec["act"] = act
        self.tensor[node.output[0]] = index + 1

    def on_BatchNormalization(self, node, attrs):
        index = self.last_layer_of(node, "batch norm")
        spec, (weight, bias) = self.description[index], self.weights[index]
        if weight is None or spec.get("act", "none") != "none":
            self.fail(node, "batch norm must directly follow a convolution or fully connected layer")
        gamma, beta, mean, var = (self.constant(node, name, "parameter") for name in node.input[1:5])
        scale = gamma / np.sqrt(var + attrs.get("epsilon", 1e-5))
        axis = 2 if spec["op"] == "depthwise_conv2d" else 0
        shape = [1] * weight.ndim
        shape[axis] = -1
        self.weights[index] = (weight * scale.reshape(shape), (bias - mean) * scale + beta)
        self.tensor[node.output[0]] = index + 1

    def on_Add(self, node, attrs):
        a, b = node.input
        if b in self.constants or a in self.constants:
            self.add_bias(node, a if b in self.constants else b, self.constants.get(b, self.constants.get(a)))
            return
        latest, earlier = (a, b) if self.read(node, a) == len(self.description) else (b, a)
        self.read_latest(node, latest)
        skip = len(self.description) - self.read(node, earlier)
        if skip <= 0:
            self.fail(node, "adds a tensor to itself")
        self.append(node, {"op": "add", "skip": skip, "act": "none"})

    def add_bias(self, node, name, value):
        index = self.last_layer_of(node, "a constant add")
        spec, (weight, bias) = self.description[index], self.weights[index]
        out_c = len(bias) if bias is not None else 0
        value = np.asarray(value, np.float64).reshape(-1)
        if weight is None or spec.get("act", "none") != "none" or value.size not in (1, out_c):
            self.fail(node, "adds a constant that is not the bias of the layer before it")
        self.weights[index] = (weight, bias + value)
        self.tensor[node.output[0]] = index + 1

    def on_MaxPool(self, node, attrs):
        self.pool(node, attrs, "max_pool")

    def on_AveragePool(self, node, attrs):
        self.pool(node, attrs, "avg_pool")

    def pool(self, node, attrs, op):
        self.read_latest(node, node.input[0])
        kernel = self.square(node, attrs["kernel_shape"], "kernel_shape")
        stride = self.square(node, attrs.get("strides", [1, 1]), "strides")
        if attrs.get("ceil_mode", 0) or any(attrs.get("pads", [0])) or \
                attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", b"VALID", "NOTSET", "VALID"):
            self.fail(node, "only unpadded pooling with ceil_mode 0 is supported")
        if any(d != 1 for d in attrs.get("dilations", [1, 1])):
            self.fail(node, "dilated pooling is not supported")
        self.append(node, {"op": op, "kernel": kernel, "stride": stride})

    def on_GlobalAveragePool(self, node, attrs):
        self.read_latest(node, node.input[0])
        self.append(node, {"op": "global_avg_pool"})

    def on_ReduceMean(self, node, attrs):
        """A mean over height and width (PyTorch's AdaptiveAvgPool2d(1) since opset 18) is a global pool."""
        axes = attrs.get("axes")
        if len(node.input) > 1 and node.input[1]:
            axes = self.constant(node, node.input[1], "axes").astype(int).tolist()
        if sorted(a % 4 for a in axes or ()) != [2, 3]:
            self.fail(node, f"a mean over axes {axes}: only over height and width (2, 3) is supported")
        self.on_GlobalAveragePool(node, attrs)
        if not attrs.get("keepdims", 1):
            self.flat.add(node.output[0])
