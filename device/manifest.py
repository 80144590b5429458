# The mcutrain package, frozen into firmware so that its bytecode runs from flash; included by
# boards/manifest.py (a real board) and boards/qemu/manifest.py (the emulated ones). The NumPy
# reference (mcutrain/reference) stays out: a board has the qnn kernels.
import os

package("mcutrain", files=sorted(f for f in os.listdir("mcutrain") if f.endswith(".py")))
