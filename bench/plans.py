"""make bench-plans: the bytes each training plan holds next to inference alone, for the fast
and the lean plan (docs/memory.md). A plan's bytes are the same on every board (its arena is a
bytearray, its per-channel state arrays of fixed item sizes), so this runs the device package on
CPython. Printed, never judged.

    total   model weights + parameter blocks + the planned arena + the trainer's state outside it
    ratio   total / the total of inference alone (the arena of a forward pass at batch 1)
    same    whether 3 steps leave the same weights under both plans (a plan moves bytes, it
            never changes the arithmetic)
"""

import hashlib

from mcutrain import model as device_model
from mcutrain.trainer import Trainer
from mcutrain_host.board.micropython import REPO
from mcutrain_host.experiment.methods import FQT_LAYERS

MODELS = ("tiny", "small")
METHODS = {
    "zo-wp": {"method": "zo", "mode": "wp"},
    "zo-np": {"method": "zo", "mode": "np"},
    "zo-mix": {"method": "zo", "mode": "mix"},
    "zo-wp-sparse": {"method": "zo", "mode": "wp", "sparse": 2},
    "zo-mix-sparse": {"method": "zo", "mode": "mix", "sparse": 2},
    "fqt": {"method": "fqt"},
    f"fqt-{FQT_LAYERS}": {"method": "fqt", "fqt_layers": FQT_LAYERS},  # the study's FQT
    "hybrid": {"method": "hybrid", "mode": "mix"},
}
STEPS = 3


def trained(name, settings, plan):
    """(bytes the plan holds, weights digest, trained layers) after STEPS steps on a fixed
    pattern, under `plan`."""
    settings = dict(settings)
    sparse = settings.pop("sparse", 0)
    m = device_model.load(str(REPO / "models" / f"{name}.mcut"))
    t = Trainer(m, plan=plan, **settings)
    x = bytes((i * 37) & 0xFF for i in range(m.input_size))
    y = bytes([3])
    if sparse:
        t.select_layers(x, y, sparse)
    for _ in range(STEPS):
        t.step(x, y)
    digest = hashlib.sha256(b"".join(bytes(layer.weight) + bytes(layer.bias) for layer in m.layers
                                     if layer.weight is not None)).hexdigest()
    memory = t.memory()
    # A plan reuses a larger arena an earlier one took (sparse training plans twice): count its own.
    planned = memory["total"] - memory["arena"] + memory["planned"]
    return planned, digest, sorted(index for index, _ in t.stats()["layers"])


def main():
    print(f"{'method':14} | {'layers':28} | fast: total  ratio | lean: total  ratio | same")
    for name in MODELS:
        m = device_model.load(str(REPO / "models" / f"{name}.mcut"))
        m.plan(batch=1)
        inference = m.memory()["total"]
        print(f"{name}: inference alone {inference} bytes (arena {m.memory()['arena']})")
        for method, settings in METHODS.items():
            fast, fast_digest, layers = trained(name, settings, "fast")
            lean, lean_digest, _ = trained(name, settings, "lean")
            print(f"{method:14} | {'/'.join(map(str, layers)):28} | {fast:11} {fast / inference:5.2f}x "
                  f"| {lean:11} {lean / inference:5.2f}x | {fast_digest == lean_digest}")


if __name__ == "__main__":
    main()
