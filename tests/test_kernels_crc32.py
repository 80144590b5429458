"""Parity of qnn.crc32 with the reference, which is zlib's CRC-32."""

import struct
import zlib
from array import array

import numpy as np

from mcutrain import reference
from parity import assert_parity


def crc_case(rng):
    data = bytearray(rng.integers(0, 256, int(rng.integers(0, 600)), dtype=np.uint8).tobytes())
    start = int(rng.choice([0, 0xFFFFFFFF, int(rng.integers(0, 1 << 32))]))
    return ("crc32", [array("i", struct.unpack("<i", struct.pack("<I", start))), data])


def test_reference_is_zlib_continued_over_chunks():
    data = bytes(range(256)) * 3 + b"123456789"
    state = array("i", [0])
    for start in range(0, len(data), 100):
        reference.crc32(state, data[start:start + 100])
    assert struct.pack("<i", state[0]) == struct.pack("<I", zlib.crc32(data))
    state = array("i", [0])
    reference.crc32(state, b"123456789")
    assert struct.pack("<i", state[0]) == struct.pack("<I", 0xCBF43926)


def test_parity(board, tmp_path):
    rng = np.random.default_rng(7)
    assert_parity(board, tmp_path, [crc_case(rng) for _ in range(200)])


def test_bad_state_raises_the_same_errors(board, tmp_path):
    cases = [("crc32", [array("i", [0, 0]), bytearray(b"abc")]),
             ("crc32", [array("i"), bytearray(b"abc")]),
             ("crc32", [bytearray(5), bytearray(b"abc")])]
    assert_parity(board, tmp_path, cases)
