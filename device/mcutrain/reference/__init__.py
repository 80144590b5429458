"""NumPy reference of every `qnn` kernel: the specification the C must equal byte for byte.

Each function has the natmod's signature (docs/kernels.md): caller-provided output buffers
first, then inputs, then an int32 parameter block; it raises ValueError with the natmod's
message for bad input.
"""

# Forward ops
from mcutrain.reference.fully_connected import fully_connected
# Random numbers and perturbation
# Gradients
# Updates, selection, loss
