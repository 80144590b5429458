"""mcutrain: on-device training of int8 networks on MicroPython boards.

The same package runs on a board (kernels from the `qnn` native module) and on CPython
(kernels from `mcutrain.reference`, the NumPy specification of the native module).
"""

__version__ = "0.1.0"
