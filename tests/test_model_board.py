"""The device runtime on the virtual board: host and board logits agree byte for byte, inference
allocates nothing, and the loader turns thousands of damaged files into its own error without
crashing or outgrowing a heap sized to the file."""

import io
import math
import struct
import zlib

import numpy as np
import pytest

from mcutrain import model_file as mf
from mcutrain.model import Model
from mcutrain_host import datasets, model_file
from mcutrain_host.quantize import quantize_images
from model_cases import MODELS, SYNTHETIC_SHAPE, synthetic_model

LOGITS_ON_BOARD = """
import sys
from mcutrain.model import load

model = load(sys.argv[1])
model.plan(batch=1)
x = bytearray(model.input_size)
with open(sys.argv[2], "rb") as src, open(sys.argv[3], "wb") as dst:
    while src.readinto(x) == len(x):
        dst.write(model.infer(x))
"""


def host_logits(path, inputs):
    model = Model(model_file.read(path))
    model.plan(batch=len(inputs))
    return bytes(model.infer(inputs.reshape(-1)))


def board_logits(board, tmp_path, path, inputs):
    (tmp_path / "inputs.bin").write_bytes(inputs.tobytes())
    board.run(LOGITS_ON_BOARD, args=[path, tmp_path / "inputs.bin", tmp_path / "logits.bin"])
    return (tmp_path / "logits.bin").read_bytes()


@pytest.mark.parametrize("name", ["tiny", "small"])
def test_200_test_images_give_the_same_logits_on_host_and_board(board, tmp_path, name):
    path = MODELS / f"{name}.mcut"
    description = model_file.read(path)
    images, _ = datasets.load("fashion-mnist", "test")
    inputs = quantize_images(images[:200], description.input_scale, description.input_zero_point)
    expected = host_logits(path, inputs)
    assert len(expected) == 200 * 10 and len(set(expected)) > 20
    assert board_logits(board, tmp_path, path, inputs) == expected


def test_every_layer_kind_gives_the_same_logits_on_host_and_board(board, tmp_path):
    path = tmp_path / "synthetic.mcut"
    model_file.write(path, synthetic_model(2))
    inputs = np.random.default_rng(3).integers(-128, 128, (40, *SYNTHETIC_SHAPE), dtype=np.int8)
    assert board_logits(board, tmp_path, path, inputs) == host_logits(path, inputs)


def test_inference_and_restarts_allocate_nothing_on_the_board(board):
    out = board.run("""
        import gc, sys
        from mcutrain.model import load
        from mcutrain.plan import Plan

        def allocated(run):
            gc.collect()
            gc.disable()
            before = gc.mem_alloc()
            for _ in range(3):
                run()
            used = gc.mem_alloc() - before
            gc.enable()
            return used

        def main():
            model = load(sys.argv[1])
            plan = Plan(model, 1)
            plan.forward(2)
            model.use(plan)
            x = bytearray(model.input_size)
            model.infer(x)
            print(allocated(lambda: model.infer(x)), allocated(lambda: model.forward(2)))
            memory = model.memory()
            print(memory["weights"], memory["arena"], memory["total"])
            images = bytes(range(256)) * 10
            print(model.evaluate(images[:3 * model.input_size], bytes(range(3))))

        main()
    """, args=[MODELS / "tiny.mcut"])
    lines = out.split("\n")
    assert lines[0] == "0 0"
    weights, arena, total = map(int, lines[1].split())
    assert 0 < weights < (MODELS / "tiny.mcut").stat().st_size and 0 < arena and weights + arena < total
    host = Model(model_file.read(MODELS / "tiny.mcut"))
    host.plan(batch=2)  # a padded last batch on the host, one image at a time on the board
    images = (bytes(range(256)) * 10)[:3 * host.input_size]
    assert int(lines[2]) == host.evaluate(images, bytes(range(3)))


FUZZ_ON_BOARD = """
import gc, sys
from mcutrain import model_file
from mcutrain.model import Model

def main(listing, budget):
    # Ballast leaves about `budget` bytes of heap (plus fragments too small for the ballast):
    # a load that needs more fails with MemoryError.
    size = gc.mem_free() - budget
    while True:
        gc.collect()
        try:
            ballast = bytearray(size)
            break
        except MemoryError:
            size -= 256
    with open(listing) as names:
        for name in names:
            try:
                with open(name.strip(), "rb") as f:
                    model = Model(model_file.load(f))
                # A file the loader accepts must also plan and run.
                model.plan(batch=1)
                model.infer(bytearray(model.input_size))
                verdict = "K"
            except model_file.ModelError:
                verdict = "E"
            except MemoryError:
                verdict = "M"
            model = None
            gc.collect()
            # One character per file, written at once: collecting them would eat the budget.
            sys.stdout.write(verdict)

main(sys.argv[1], int(sys.argv[2]))
"""


def with_crc(body):
    return body + struct.pack("<I", zlib.crc32(body))


class Mutator:
    """Damaged variants of one model file, from a seeded generator."""

    def __init__(self, data, seed):
        self.data, self.rng = data, np.random.default_rng(seed)
        self.model = mf.load(io.BytesIO(data))
        self.layer_count = len(self.model.layers)
        self.tensor_count = sum(len(layer.tensors) for layer in self.model.layers)
        # Shapes chain from the input: changing its height, width or channels must break the
        # first layer. True for the shipped models: a stride-1 "same" conv2d comes first.
        first = self.model.layers[0]
        assert first.op == mf.CONV2D and first.stride == (1, 1) and first.shape[:2] == self.model.input_shape[:2]

    def integer(self, lo, hi):
        return int(self.rng.integers(lo, hi, endpoint=True))

    def other_than(self, value, lo, hi):
        while True:
            v = self.integer(lo, hi)
            if v != value:
                return v

    def truncated(self):
        cut = self.rng.choice([0, 1, 27, 28, 31, 32, len(self.data) - 5, len(self.data) - 4, len(self.data) - 1,
                               self.integer(0, len(self.data) - 1)])
        return self.data[:cut]

    def bit_flipped(self):
        out = bytearray(self.data)
        for _ in range(self.integer(1, 3)):
            bit = self.integer(0, 8 * len(out) - 1)
            out[bit // 8] ^= 1 << (bit % 8)
        return bytes(out)

    def with_fields(self, *fields):
        out = bytearray(self.data)
        for offset, fmt, value in fields:
            struct.pack_into(fmt, out, offset, value)
        return with_crc(bytes(out[:-4]))

    def bad_float(self):
        return float(self.rng.choice([0.0, -0.0, -1.5, math.inf, -math.inf, math.nan]))

    def invalid_field(self):
        """One field set to a value the format forbids, CRC recomputed: the field checks must catch it."""
        kind = self.rng.choice(["header", "layer", "layer", "tensor", "data"])
        return getattr(self, "invalid_" + kind)()

    def invalid_header(self):
        h, w, c = self.model.input_shape
        choices = [
            (0, "4s", bytes(self.rng.integers(0, 256, 4, dtype=np.uint8)).replace(b"M", b"N")),
            (4, "<H", self.other_than(mf.VERSION, 0, 0xFFFF)),
            (6, "<H", self.other_than(self.layer_count, 0, 0xFFFF)),
            (8, "<H", self.other_than(self.tensor_count, 0, 0xFFFF)),
            (10, "<H", self.other_than(h, 0, 0xFFFF)),
            (12, "<H", self.other_than(w, 0, 0xFFFF)),
            (14, "<H", self.other_than(c, 0, 0xFFFF)),
            (16, "<f", self.bad_float()),
            (21, "<B", self.integer(1, 0xFF)),
            (22, "<H", self.integer(1, 0xFFFF)),
            (24, "<I", self.other_than(len(self.data), 0, 0xFFFFFFFF)),
        ]
        return self.with_fields(choices[self.integer(0, len(choices) - 1)])

    def invalid_layer(self):
        i = self.integer(0, self.layer_count - 1)
        layer = self.model.layers[i]
        at = mf.HEADER_SIZE + i * mf.LAYER_SIZE
        lo = self.integer(-127, 127)
        dim = self.integer(0, 2)
        choices = [
            [(at, "<B", self.rng.choice([0, self.integer(8, 255)]))],
            [(at + 2, "<b", lo), (at + 3, "<b", self.integer(-128, lo - 1))],  # act_min > act_max
            [(at + 4, "<H", self.integer(i + 1, 0xFFFF))],
            [(at + 6, "<H", self.integer(i + 1, 0xFFFE) if layer.op == mf.ADD else self.integer(0, 0xFFFE))],
            [(at + 14 + 2 * dim, "<H", self.other_than(layer.shape[dim], 0, 0xFFFF))],
            [(at + 20, "<H", self.other_than(sum(len(l.tensors) for l in self.model.layers[:i]), 0, 0xFFFF))],
            [(at + 22, "<H", self.integer(1, 0xFFFF))],
            [(at + 24, "<f", self.bad_float())],
        ]
        if layer.op in mf.WINDOWED:
            in_h, in_w, _ = self.model.shape(layer.inputs[0])
            (k_h, k_w), (pad_top, pad_left) = layer.kernel, layer.pad
            choices += [[(at + 8, "<B", self.kernel_too_big(in_h + 2 * pad_top + 1))],
                        [(at + 9, "<B", self.kernel_too_big(in_w + 2 * pad_left + 1))],
                        [(at + 10 + self.integer(0, 1), "<B", 0)],  # stride
                        [(at + 12, "<B", self.integer((k_h - 1) // 2 + 1, 255))],  # padding over half the kernel
                        [(at + 13, "<B", self.integer((k_w - 1) // 2 + 1, 255))]]
        else:
            choices += [[(at + 8 + self.integer(0, 5), "<B", self.integer(1, 255))]]
        if layer.op in (mf.MAX_POOL, mf.AVG_POOL, mf.GLOBAL_AVG_POOL):
            choices += [[(at + 1, "<b", self.other_than(layer.zero_point, -128, 127))]]
        return self.with_fields(*choices[self.integer(0, len(choices) - 1)])

    def kernel_too_big(self, smallest):
        """0, or a kernel larger than the padded input (when a u8 can hold one)."""
        return 0 if smallest > 255 or self.rng.random() < 0.5 else self.integer(smallest, 255)

    def invalid_tensor(self):
        j = self.integer(0, self.tensor_count - 1)
        at = mf.HEADER_SIZE + self.layer_count * mf.LAYER_SIZE + j * mf.TENSOR_SIZE
        size, _, _, offset, count = struct.unpack_from(mf.TENSOR, self.data, at)
        choices = [(at, "<B", self.other_than(size, 0, 255)), (at + 1, "<B", self.integer(1, 255)),
                   (at + 2, "<H", self.integer(1, 0xFFFF)), (at + 4, "<I", self.other_than(offset, 0, 0xFFFFFFFF)),
                   (at + 8, "<I", self.other_than(count, 0, 0xFFFFFFFF))]
        return self.with_fields(choices[self.integer(0, len(choices) - 1)])

    def invalid_data(self):
        """A requantization value outside the kernels' ranges."""
        layers = [layer for layer in self.model.layers if layer.op in mf.WEIGHTED or layer.op == mf.ADD]
        layer = layers[self.integer(0, len(layers) - 1)]
        negative = self.integer(-(1 << 31), -1)
        bad_shift = self.rng.choice([self.integer(31, 1000), self.integer(-1000, -32)])
        if layer.op == mf.ADD:
            tensor, position = 0, self.integer(0, 6)
            # a_multiplier, a_shift, b_multiplier, b_shift, left_shift, out_multiplier, out_shift
            bad = [negative, bad_shift, negative, bad_shift, self.rng.choice([negative, self.integer(21, 1000)]),
                   negative, bad_shift][position]
        else:
            tensor, position = self.integer(2, 3), self.integer(0, layer.shape[2] - 1)
            bad = negative if tensor == 2 else bad_shift
        return self.with_fields((self.offset_of(layer, tensor) + 4 * position, "<i", int(bad)))

    def offset_of(self, layer, tensor):
        j = 0
        for other in self.model.layers:
            if other is layer:
                break
            j += len(other.tensors)
        at = mf.HEADER_SIZE + self.layer_count * mf.LAYER_SIZE + (j + tensor) * mf.TENSOR_SIZE
        return struct.unpack_from(mf.TENSOR, self.data, at)[3]

    def any_field(self):
        """One byte of the header or tables set to any other value, CRC recomputed: the file may stay valid."""
        table_end = mf.HEADER_SIZE + self.layer_count * mf.LAYER_SIZE + self.tensor_count * mf.TENSOR_SIZE
        at = self.integer(0, table_end - 1)
        out = bytearray(self.data)
        out[at] = self.other_than(out[at], 0, 255)
        return with_crc(bytes(out[:-4]))


def write_files(folder, variants):
    folder.mkdir()
    paths = []
    for i, data in enumerate(variants):
        paths.append(folder / f"{i}.mcut")
        paths[-1].write_bytes(data)
    listing = folder / "listing.txt"
    listing.write_text("".join(f"{p}\n" for p in paths))
    return listing


def host_verdict(data):
    try:
        mf.load(io.BytesIO(data))
    except mf.ModelError:
        return "E"
    return "K"


@pytest.mark.parametrize("name, count", [("tiny", 1200), ("small", 1000)])
def test_damaged_files_raise_model_error_on_the_board(board, tmp_path, name, count):
    data = (MODELS / f"{name}.mcut").read_bytes()
    mutator = Mutator(data, seed=len(data))
    per_kind = count // 4
    damaged = ([mutator.truncated() for _ in range(per_kind)] + [mutator.bit_flipped() for _ in range(per_kind)]
               + [mutator.invalid_field() for _ in range(count - 2 * per_kind)])
    assert [host_verdict(d) for d in damaged] == ["E"] * count
    # Loading may take the file's size twice (tables, tensors and the objects around them), no more.
    budget = 2 * len(data) + 8192
    out = board.run(FUZZ_ON_BOARD, args=[write_files(tmp_path / "damaged", damaged), budget]).strip()
    assert out == "E" * count


def test_any_table_byte_changed_never_crashes_the_board(board, tmp_path):
    data = (MODELS / "small.mcut").read_bytes()
    mutator = Mutator(data, seed=11)
    variants = [mutator.any_field() for _ in range(300)] + [data]
    # Accepted files are also planned and run: room for the arena too.
    budget = 4 * len(data)
    out = board.run(FUZZ_ON_BOARD, args=[write_files(tmp_path / "changed", variants), budget]).strip()
    assert out == "".join(host_verdict(v) for v in variants)
    assert out[-1] == "K" and out.count("E") > 200
