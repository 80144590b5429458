"""Model descriptions: MCU-sized CNNs as plain lists of layer specs.

A spec is a dict with an "op" (one of the model file's layer ops) and its settings. Layer i
reads the output of layer i-1 (the image for i = 0); an "add" also reads the tensor `skip`
layers before its first input, which `residual(...)` sets for its block. Convolutions and
depthwise convolutions are trained with batch norm, folded into their weights at export;
"act" is fused into the layer ("none", "relu" or "relu6").
"""


def conv(filters, kernel=3, stride=1, act="relu"):
    return {"op": "conv2d", "filters": filters, "kernel": kernel, "stride": stride, "act": act}


def pointwise(filters, act="relu6"):
    return conv(filters, kernel=1, act=act)


def depthwise(kernel=3, stride=1, act="relu6"):
    return {"op": "depthwise_conv2d", "kernel": kernel, "stride": stride, "act": act}


def max_pool(size=2):
    return {"op": "max_pool", "kernel": size, "stride": size}


def avg_pool(size=2):
    return {"op": "avg_pool", "kernel": size, "stride": size}


def global_avg_pool():
    return {"op": "global_avg_pool"}


def dense(units, act="none"):
    return {"op": "fully_connected", "units": units, "act": act}


def separable(filters, stride=1, act="relu6"):
    """A depthwise-separable block: 3x3 depthwise then 1x1 pointwise."""
    return [depthwise(stride=stride), pointwise(filters, act=act)]


def residual(block, act="none"):
    """block, then the block's input added to its output (shapes must agree)."""
    return [*block, {"op": "add", "skip": len(block), "act": act}]


def tiny(classes):
    """About 9k parameters: three 3x3 convolutions with max pooling, then one dense layer."""
    return [conv(8), max_pool(), conv(16), max_pool(), conv(32), max_pool(), dense(classes)]


def small(classes):
    """About 20k parameters: MobileNetV2-like depthwise-separable blocks with residual adds."""
    return [
        conv(16, act="relu6"),
        *separable(32, stride=2),
        *residual(separable(32, act="none")),
        *separable(64, stride=2),
        *residual(separable(64, act="none")),
        *separable(128, stride=2),
        global_avg_pool(),
        dense(classes),
    ]


def medium(classes):
    """About 288k parameters, more int8 weights than an RP2040's free heap: a stack of 3x3
    convolutions that stays in flash, and a small dense head that trains (#16)."""
    return [conv(32), max_pool(), conv(64), max_pool(), conv(128), conv(160), max_pool(), global_avg_pool(),
            dense(64, act="relu"), dense(classes)]


ARCHITECTURES = {"tiny": tiny, "small": small, "medium": medium}
