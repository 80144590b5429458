"""Editor stubs for mcutrain.model, the REPL's `m` (tests/test_stubs.py keeps them equal to it)."""

from qnn import Buffer


def load(path: str) -> Model:
    """The model in a file, validated before anything big is allocated. A file in ROMFS has a
    buffer, the flash itself: its weights stay there."""


class Model:
    batch: int
    input_size: int
    classes: int

    def plan(self, batch: int = 1) -> None:
        """Plans inference alone for `batch` samples, in one arena allocated once, then takes the
        kernels' scratch from what the heap has left (take_scratch)."""

    def take_scratch(self, keep: int = 0) -> None:
        """Gives the kernels that gain from one a scratch (the Cortex-M0 and M4 widen weights in it, add
        tabulates its inputs there): what the largest use needs, or half the free heap less `keep`
        bytes, the fewer. A plan and a trainer take it themselves; results never depend on it."""

    def drop_scratch(self) -> None:
        """Gives the kernels' scratch back to the heap: the same results, slower."""

    def infer(self, x: Buffer) -> memoryview:
        """Logits (int8, batch x classes, in the arena) of x (int8, batch x input, NHWC)."""

    def evaluate(self, images: Buffer, labels: Buffer, hits: bytearray | None = None) -> int:
        """How many images (int8 inputs back to back) are classified as their labels (one per image).
        `hits`, one byte per image if given, gets 1 where an image is classified right, else 0."""

    def forward(self, start: int = 0, stop: int | None = None) -> memoryview:
        """Runs layers start..stop-1 on the tensors in the arena and returns the last one made."""

    def activation(self, t: int, stage: int | None = None) -> memoryview:
        """Tensor t's buffer in the arena (t = 0: the last input given to infer)."""

    def memory(self) -> dict[str, int]:
        """Bytes held in RAM: weights, params, arena, scratch (the kernels'), total; planned (the
        arena the plan uses); flash (the weights read in place from flash)."""
