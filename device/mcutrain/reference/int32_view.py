from mcutrain.reference import buffers as B


def int32_view(view):
    """The bytes of a memoryview (a slice of a planned arena) as int32 elements, with the
    natmod's checks: a whole number of elements at an address a Cortex-M0 can read them from."""
    if not isinstance(view, memoryview):
        raise ValueError("int32_view: takes a memoryview")
    if view.readonly:
        raise TypeError("object with buffer protocol required")
    B.s32(view, "view")  # length and alignment, with their messages
    return view.cast("B").cast("i")
