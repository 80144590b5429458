from mcutrain.reference import buffers as B


def fill(t, value):
    """Every element of t (int8 or int32) = value, which must fit the type. Returns 0."""
    B.require("fill", B.int32_range(value), "params")
    t = B.sized(t, "t")
    B.require("fill", t is not None and t.itemsize in (1, 4) and (t.itemsize == 4 or -128 <= value <= 127), "params")
    t[...] = value
    return 0
