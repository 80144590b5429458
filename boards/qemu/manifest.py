# The emulated boards' frozen firmware: the mcutrain package, and time over a hardware timer (the
# qemu port has no time module; time.py).
include("../../device/manifest.py")
module("time.py")
