import numpy as np

from mcutrain.reference import buffers as B
from mcutrain.reference import requant

OP = "requantize"


def requantize(out, acc, multiplier, shift, params):
    """out[i] = clamp(requant(acc[i], multiplier[i % channels], shift[i % channels]) + out_zp).

    params: [count, channels, out_zp, act_min, act_max]; acc int32 [count], out int8 [count].
    """
    out, acc = B.s8(out, "out"), B.s32(acc, "acc")
    multiplier, shift = B.s32(multiplier, "multiplier"), B.s32(shift, "shift")
    count, channels, out_zp, act_min, act_max = B.params(OP, params, 5)
    B.require(OP, count >= 1 and channels >= 1 and B.int8_range(out_zp, act_min, act_max) and act_min <= act_max,
              "params")
    B.require(OP, len(acc) == count, "input")
    B.require(OP, len(multiplier) == channels and len(shift) == channels, "bias")
    B.require(OP, len(out) == count, "output")
    B.require(OP, B.requant_ok(multiplier, shift), "params")
    channel = np.arange(count) % channels
    y = requant.requantize(acc, multiplier[channel], shift[channel]) + out_zp
    B.clamp_into(out, y, act_min, act_max)
    return 0
