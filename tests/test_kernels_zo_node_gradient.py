"""qnn.zo_node_gradient (node perturbation's estimate, a block of nodes at a time): parity with
the NumPy reference on the virtual board, and the reference against its definition: blocks put
together are the whole estimate, which is the masked sum of the queries' directions, repeated
every `period` nodes."""

from array import array

import numpy as np
import pytest

from kernel_cases import CaseMaker
from mcutrain import reference
from mcutrain.reference import xorshift
from parity import assert_parity


def node_case(m):
    batch, queries = m.dim(1, 3), m.choice([1, 2, m.dim(1, 12), 128])
    period = m.choice([1, 31, 32, 33, m.dim(1, 100)])
    nodes = period * m.choice([1, 1, m.dim(2, 5)])
    first = m.choice([0, m.dim(0, nodes - 1)])
    count = m.choice([nodes - first, m.dim(1, nodes - first)])
    act_min, act_max = m.act_range()
    coeff_limit = m.choice([100, 1 << 16, 1 << 31])
    seeds = array("i", [m.seed() for _ in range(queries * batch)])
    coeffs = array("i", m.rng.integers(-coeff_limit, coeff_limit, queries * batch).tolist())
    return ("zo_node_gradient", [m.s32(batch * count), m.s8(batch * nodes), seeds, coeffs,
                                 m.params(batch, nodes, first, act_min, act_max, period)])


def test_parity(board, tmp_path):
    m = CaseMaker(seed=21)
    assert_parity(board, tmp_path, [node_case(m) for _ in range(300)])


def test_bad_arguments_raise_the_same_errors(board, tmp_path):
    m = CaseMaker(seed=22)
    cases = [m.break_case(node_case(m)) for _ in range(200)]
    bad = node_case(m)
    batch = bad[1][4][0]
    bad[1][2] = array("i", [1] * 129 * batch)  # more queries than the kernel holds streams for
    bad[1][3] = array("i", [1] * 129 * batch)
    cases.append(bad)
    bad = node_case(m)
    bad[1][2][0] = 1 << 30  # a seed out of range
    cases.append(bad)
    assert_parity(board, tmp_path, cases)


@pytest.mark.parametrize("period", [150, 30, 6])
def test_blocks_make_the_masked_sum_of_the_queries_directions(period):
    rng = np.random.default_rng(23)
    batch, nodes, queries = 2, 150, 5
    seeds = array("i", rng.integers(0, 1 << 30, queries * batch).tolist())
    coeffs = array("i", rng.integers(-1 << 20, 1 << 20, queries * batch).tolist())
    y = bytearray(rng.integers(-128, 128, batch * nodes, dtype=np.int8).tobytes())
    act_min, act_max = -100, 100
    whole = array("i", bytes(4 * batch * nodes))
    reference.zo_node_gradient(whole, y, seeds, coeffs, array("i", (batch, nodes, 0, act_min, act_max, period)))
    outputs = np.frombuffer(y, np.int8).reshape(batch, nodes)
    expected = np.zeros((batch, nodes), np.int64)
    for q in range(queries):
        for b in range(batch):
            direction = xorshift.rademacher(seeds[q * batch + b], period)
            expected[b] += coeffs[q * batch + b] * np.concatenate([direction] * (nodes // period))
    expected[(outputs <= act_min) | (outputs >= act_max)] = 0
    assert np.array_equal(np.array(whole).reshape(batch, nodes), expected)
    assert 0 < np.sum(expected == 0) < batch * nodes // 2  # the mask did cut some nodes, not most
    for first, count in ((0, 1), (31, 2), (32, 33), (100, 50)):
        block = array("i", bytes(4 * batch * count))
        reference.zo_node_gradient(block, y, seeds, coeffs,
                                   array("i", (batch, nodes, first, act_min, act_max, period)))
        assert np.array_equal(np.array(block).reshape(batch, count), expected[:, first:first + count])


def test_the_sum_saturates_once_at_the_end():
    # Two queries of INT32_MAX and one of -INT32_MAX with the same seed: each node's exact sum is
    # +-INT32_MAX, which a running saturating sum would get wrong for half of them.
    seed, top = 99, (1 << 31) - 1
    g = array("i", [0] * 64)
    reference.zo_node_gradient(g, bytearray(64), array("i", [seed] * 3), array("i", [top, top, -top]),
                               array("i", (1, 64, 0, -128, 127, 64)))
    assert list(g) == (top * xorshift.rademacher(seed, 64)).tolist()
