"""NumPy reference of every `qnn` kernel: the specification the C must equal byte for byte.

Each function has the natmod's signature (docs/kernels.md): caller-provided output buffers
first, then inputs, then an int32 parameter block; it raises ValueError with the natmod's
message for bad input.
"""

# Scratch the kernels use (qnn.h): the Cortex-M0's and M4's widened weights, add's tables. The reference
# needs none (it tabulates add's inputs in NumPy), so that a plan on CPython is the plan without.
SCRATCH_PER_WEIGHT = ADD_SCRATCH = 0
# Forward ops
from mcutrain.reference.fully_connected import fully_connected
from mcutrain.reference.conv2d import conv2d, depthwise_conv2d
from mcutrain.reference.pool import avg_pool, global_avg_pool, max_pool
from mcutrain.reference.add import add
from mcutrain.reference.requantize import requantize
from mcutrain.reference.argmax import argmax
# Random numbers and perturbation
from mcutrain.reference.perturb import perturb, unperturb
from mcutrain.reference.fill import fill
from mcutrain.reference.zo_update import seeds, zo_update
from mcutrain.reference.zo_node_gradient import zo_node_gradient
# Gradients
from mcutrain.reference.fc_grad import fc_input_grad, fc_weight_grad
from mcutrain.reference.conv_grad import (conv2d_input_grad, conv2d_weight_grad, depthwise_input_grad,
                                          depthwise_weight_grad)
from mcutrain.reference.bias_grad import bias_grad
from mcutrain.reference.pool_grad import avg_pool_input_grad, global_avg_pool_input_grad, max_pool_input_grad
from mcutrain.reference.clamp_mask import clamp_mask
# Updates, selection, loss
from mcutrain.reference.quantize import quantize_s8
from mcutrain.reference.sgd import sgd_update
from mcutrain.reference.select import row_norms, topk
from mcutrain.reference.standardize import channel_norms, standardize
from mcutrain.reference.cross_entropy import cross_entropy
# Utilities
from mcutrain.reference.crc32 import crc32
from mcutrain.reference.int32_view import int32_view
from mcutrain.reference.frame import copy, frame_decode, frame_encode
