# heap: 96K
# Checkpoints on the board: save, resume, fall back to the previous one when the newest is
# damaged or truncated, and refuse files of another layout.
import os
from array import array
from mcutrain.checkpoint import Checkpoints

PATH = "/tmp/mcutrain_ckpt_test_%d" % os.getpid() if hasattr(os, "getpid") else "/tmp/mcutrain_ckpt_test"
for suffix in (".0", ".1", ".tmp"):
    try:
        os.remove(PATH + suffix)
    except OSError:
        pass

w = bytearray(range(200))
b = array("i", [1, -2, 1 << 30])
ck = Checkpoints(PATH, [w, b])
assert ck.load() is None
ck.save(1, (10, 20))
w[0] = 99
b[1] = 7
ck.save(2, (30,))
w[0] = 0
b[1] = 0
assert ck.load() == (2, (30,)), ck.load()
assert w[0] == 99 and b[1] == 7

# Damage the newest slot: one flipped byte in the tensor data.
newest = [s for s in (".0", ".1") if open(PATH + s, "rb").read()[8:12] == b"\x02\x00\x00\x00"][0]
data = bytearray(open(PATH + newest, "rb").read())
data[40] ^= 1
open(PATH + newest, "wb").write(data)
assert ck.load() == (1, (10, 20))
assert w[0] == 0 and b[1] == -2, (w[0], b[1])

# A truncated newest slot falls back too; so does one written for other tensors.
open(PATH + newest, "wb").write(data[:-9])
assert ck.load()[0] == 1
other = Checkpoints(PATH, [bytearray(3)])
assert other.load() is None

# The next save goes over the damaged slot, never over the last good one.
ck.save(3, ())
assert ck.load() == (3, ())
for suffix in (".0", ".1"):
    os.remove(PATH + suffix)
print("ok")
