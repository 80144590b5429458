"""Editor stubs for mcutrain.trainer, the REPL's `t` (tests/test_stubs.py keeps them equal to it).

    t = Trainer(m, method="fqt", lr=0.003)   # plans its buffers in the model's arena, once
    loss = t.step(x, labels)                 # allocates nothing
    t.set(lr=0.001); t.stats(); t.memory()
"""

from mcutrain.model import Model
from qnn import Buffer


class Trainer:
    steps: int
    samples: int
    lr: float

    def __init__(self, model: Model, method: str = "zo", batch: int = 1, layers: list[int] | None = None,
                 mode: str = "wp", lr: float = 0.01, queries: int = 10, sigma: int = 1, bias_sigma: int = 100,
                 act_sigma: int = 5, antithetic: bool = False, gns: bool = True, qas: bool = True,
                 stochastic: bool = True, standardize: bool = False, schedule_name: str = "constant",
                 total_steps: int = 1000, seed: int = 1, lmin: float = 1.0, lmax: float = 1.0, fqt_layers: int = 2,
                 plan: str | int | None = None, arena: bytearray | None = None, zo_lr: float | None = None) -> None:
        """method "zo" (mode "wp", "np" or "mix"), "fqt" or "hybrid"; plan "fast", "lean", a budget
        of arena bytes, or None for the fastest that fits the free heap; arena: a bytearray to plan in;
        zo_lr: the hybrid's ZO layers' rate, None for lr (docs/algorithms.md, docs/memory.md)."""

    def step(self, x: Buffer, labels: Buffer) -> int:
        """One training step on a batch: x int8 images back to back, labels one byte each.
        Returns the batch-mean loss before the update, in Q16 nats."""

    def set(self, **settings: object) -> None:
        """Changes settings between steps (lr=..., queries=..., layers=...); the next step uses them."""

    def stats(self) -> dict[str, object]:
        """Progress for people: steps, samples, loss, lr, ...; floats are for reporting only."""

    def memory(self) -> dict[str, int]:
        """Bytes: the model's (weights, params, arena), training (state outside the arena), total;
        on a board also heap and code_and_objects."""

    def evaluate(self, images: Buffer, labels: Buffer) -> int:
        """Correct predictions among the images (int8, back to back) and their labels."""

    def select_layers(self, x: Buffer, labels: Buffer, count: int, queries: int | None = None) -> list[int]:
        """Sparse training: scores every weighted layer by its ZO gradient-norm ratio on one batch and
        trains the `count` best from now on; returns them."""

    def save(self, path: str, extra: tuple[Buffer, ...] = ()) -> None:
        """Checkpoints the trainable tensors, the seed stream, the counters and `extra` buffers."""

    def resume(self, path: str, extra: tuple[Buffer, ...] = ()) -> bool:
        """Restores the newest undamaged checkpoint (and `extra`, as saved); False if there is none."""
