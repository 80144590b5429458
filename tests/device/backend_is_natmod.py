# heap: 192K
# board only
# On a board the device package must reach the kernels through the natmod, never NumPy.
from mcutrain.backend import kernels, NAME
import qnn

assert NAME == "qnn", NAME
assert kernels is qnn
