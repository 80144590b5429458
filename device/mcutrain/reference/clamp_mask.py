from mcutrain.reference import buffers as B


def clamp_mask(g, y, params):
    """In place: g[i] = 0 unless act_min < y[i] < act_max.

    The straight-through mask of a clamp (ReLU, ReLU6, int8 saturation): an output at a bound may
    have been clamped there, so its gradient does not flow back. params: [count, act_min,
    act_max]; g int8/16/32 [count], y int8 [count] (the clamped output).
    """
    op = "clamp_mask"
    g, y = B.sized(g, "g"), B.s8(y, "y")
    count, act_min, act_max = B.params(op, params, 3)
    B.require(op, count >= 1 and B.int8_range(act_min, act_max) and act_min <= act_max and g is not None, "params")
    B.require(op, len(y) == count, "input")
    B.require(op, len(g) == count, "aux")
    g[(y <= act_min) | (y >= act_max)] = 0
    return 0
