"""Quantization scales as fixed-point numbers (mcutrain.fixed), derived from the model file.

The file keeps activation scales (float32) and each weighted layer's requantization
(multiplier M_c, shift_c); a weight scale follows exactly from them:
s_in * s_w[c] / s_out = M_c * 2^(shift_c - 31).
"""

from mcutrain import fixed


def activation(description, tensor):
    return fixed.from_float(description.scale(tensor))


def weight(description, layer, channel):
    s_in = activation(description, layer.inputs[0])
    s_out = fixed.from_float(layer.record.scale)
    return fixed.div(fixed.mul((layer.multiplier[channel], layer.shift[channel] - 31), s_out), s_in)
