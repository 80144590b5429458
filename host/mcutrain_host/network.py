"""A float network built from a model description, and its .npz file.

Tensor t is the image for t = 0 and the output of layer t-1 otherwise, as in the model file.
The .npz holds the description, the input shape and the exported (batch-norm folded) weights,
so a loaded network is the one the int8 model is quantized from.
"""

import json

import numpy as np

from mcutrain.model_file import ModelError
from mcutrain_host.layers import LAYERS


def input_tensors(index, spec):
    return (index, index - spec["skip"]) if spec["op"] == "add" else (index,)


class Network:
    def __init__(self, description, input_shape, seed=0, batch_norm=True):
        rng = np.random.default_rng(seed)
        self.description, self.input_shape = description, tuple(input_shape)
        self.shapes = [self.input_shape]
        self.layers, self.inputs = [], []
        for index, spec in enumerate(description):
            inputs = input_tensors(index, spec)
            if min(inputs) < 0:
                raise ValueError(f"layer {index} ({spec['op']}) skips back past the input")
            layer = LAYERS[spec["op"]](spec, [self.shapes[t] for t in inputs], rng, batch_norm)
            self.layers.append(layer)
            self.inputs.append(inputs)
            self.shapes.append(layer.out_shape)

    def tensors(self, x, train=False, rounding=None):
        """Every tensor of one forward pass; x is float (n, h, w, c) in [0, 1]. rounding, if given,
        maps each layer's output before the next layer reads it (calibration's fixed-point grid)."""
        tensors = [x]
        for layer, inputs in zip(self.layers, self.inputs):
            y = layer.forward([tensors[t] for t in inputs], train)
            tensors.append(rounding(y) if rounding else y)
        return tensors

    def logits(self, x, train=False):
        y = self.tensors(x, train)[-1]
        return y.reshape(len(y), -1)

    def backward(self, dlogits):
        grads = [None] * len(self.shapes)
        grads[-1] = dlogits.reshape(len(dlogits), *self.shapes[-1])
        for index in range(len(self.layers) - 1, -1, -1):
            for t, g in zip(self.inputs[index], self.layers[index].backward(grads[index + 1])):
                grads[t] = g if grads[t] is None else grads[t] + g

    def parameters(self):
        """(params, grads) dict pairs of every trainable part, batch norms included."""
        parts = []
        for layer in self.layers:
            parts.append(layer)
            if layer.batch_norm:
                parts.append(layer.batch_norm)
        return parts

    def parameter_count(self):
        """Parameters of the exported network: weights and biases, batch norm folded away."""
        return sum(a.size for layer in self.layers for a in layer.export().values())

    def predict(self, images, batch=1000):
        return np.concatenate([self.logits(to_float(images[i:i + batch])).argmax(axis=1)
                               for i in range(0, len(images), batch)])

    def save(self, path):
        arrays = {f"{index}.{name}": value for index, layer in enumerate(self.layers)
                  for name, value in layer.export().items()}
        meta = json.dumps({"description": self.description, "input_shape": self.input_shape})
        with open(path, "wb") as f:
            np.savez(f, meta=np.array(meta), **arrays)


def to_float(images):
    """uint8 pixels to the float input the network is trained on."""
    return images.astype(np.float32) / 255


def load(path):
    """The exported network of an .npz written by Network.save (batch norm already folded);
    ModelError for any other file."""
    try:
        with np.load(path) as data:
            meta = json.loads(str(data["meta"]))
            network = Network(meta["description"], meta["input_shape"], batch_norm=False)
            for index, layer in enumerate(network.layers):
                for name in layer.params:
                    layer.params[name] = data[f"{index}.{name}"]
    except (ValueError, KeyError, TypeError, EOFError) as e:  # not an .npz, or not one of ours
        raise ModelError(f"{path}: not a float model written by `mcutrain pretrain` ({e})") from e
    return network
