"""The one kernel backend: the `qnn` native module on a board, its NumPy reference elsewhere.

Everything above the kernels reaches them through `kernels`, so the training code is the
same text on both.
"""

try:
    import qnn as kernels
except ImportError:
    from mcutrain import reference as kernels

NAME = "reference" if kernels.__name__.endswith("reference") else "qnn"
