# Firmware for a real board (rp2, stm32, ...) with mcutrain frozen in: the port's own frozen
# modules first (rp2's set up its filesystem), then the device package.
#   make -C <micropython>/ports/<port> BOARD=... FROZEN_MANIFEST=<this repo>/boards/manifest.py \
#       USER_C_MODULES=<this repo>/native_modules            (make-based ports: stm32, ...)
#       USER_C_MODULES=<this repo>/native_modules/qnn/micropython.cmake   (CMake ports: rp2, esp32)
# A board with a manifest.py of its own (RPI_PICO_W, say) includes that one instead.
include("$(PORT_DIR)/boards/manifest.py")
include("../device/manifest.py")
