# heap: 512K
# A trainer saved mid-run and resumed in a fresh model continues with the very same bytes as
# an uninterrupted run; a damaged newest checkpoint falls back to the previous one.
import gc
import os
from mcutrain import model
from mcutrain.trainer import Trainer

MODEL = __file__.rsplit("/", 3)[0] + "/models/tiny.mcut"
PATH = "/tmp/mcutrain_resume_%d" % (os.getpid() if hasattr(os, "getpid") else 0)
SETTINGS = {"layers": [4, 6], "mode": "mix", "queries": 3, "lr": 0.01}


def batch(i):
    x = bytearray(784)
    for j in range(0, 784, 7):
        x[j] = (i * 37 + j) & 0xFF
    return x, bytes([i % 10])


def weights(m):
    return [bytes(t) for i in (4, 6) for t in (m.layers[i].weight, m.layers[i].bias)]


def clean():
    for suffix in (".0", ".1", ".tmp"):
        try:
            os.remove(PATH + suffix)
        except OSError:
            pass


clean()
straight = model.load(MODEL)
t = Trainer(straight, **SETTINGS)
for i in range(6):
    t.step(*batch(i))
expected = weights(straight)
del straight, t
gc.collect()

first = model.load(MODEL)
t = Trainer(first, **SETTINGS)
for i in range(3):
    t.step(*batch(i))
t.save(PATH)
t.step(*batch(3))
t.save(PATH)  # the newest: after 4 steps
del first, t
gc.collect()

resumed = model.load(MODEL)
t = Trainer(resumed, **SETTINGS)
assert t.resume(PATH) and t.steps == 4 and t.samples == 4, (t.steps, t.samples)
for i in range(4, 6):
    t.step(*batch(i))
assert weights(resumed) == expected, "a resumed run must continue byte for byte"
del resumed, t
gc.collect()

# Damage the newest slot: the trainer resumes from the 3-step checkpoint instead.
for suffix in (".0", ".1"):
    data = bytearray(open(PATH + suffix, "rb").read())
    if data[8] == 4:
        data[100] ^= 0x40
        open(PATH + suffix, "wb").write(data)
t = Trainer(model.load(MODEL), **SETTINGS)
assert t.resume(PATH) and t.steps == 3, t.steps

# Another set of trainable layers does not match the checkpoint's layout.
assert not Trainer(model.load(MODEL), layers=[6], queries=3).resume(PATH)
clean()
print("ok")
