# Freezes the mcutrain package into firmware, so that its bytecode runs from flash:
#   make -C <micropython>/ports/<port> BOARD=... FROZEN_MANIFEST=<this repo>/device/manifest.py
# The NumPy reference (mcutrain/reference) stays out: a board has the qnn kernels.
# A port's own manifest can be kept with include("$(PORT_DIR)/boards/manifest.py") in a copy.
import os

package("mcutrain", files=sorted(f for f in os.listdir("mcutrain") if f.endswith(".py")))
