"""Deploy's fit check at its edge (issue #17): the verdict is the board's own. On the virtual
board, bisect the heap to the smallest that `mcutrain deploy` accepts; a whole `mcutrain train`
run (checkpoints every 10 steps, evaluations, the final save and report) then completes in that
heap, and a run in the largest heap deploy refused (at most STEP bytes below) is refused by the
board when it builds the plan, as deploy said: a run's first CONFIG is the check's, in the same
arena, so it makes the same allocations."""

import pytest

from mcutrain_host import cli
from test_trainer import TINY

STEP = 64  # the bisection's resolution, in bytes


def deploys(heap, method):
    return cli.main(["deploy", "--port", "sim", "--heap", str(heap), "--model", str(TINY), "--method", method]) == 0


def trains(heap, method, out):
    return cli.main(["train", "--port", "sim", "--heap", str(heap), "--model", str(TINY), "--method", method,
                     "--samples", "30", "--test", "20", "--eval-every", "10", "--checkpoint-every", "10",
                     "--out", str(out)])


@pytest.mark.parametrize("method", ["fqt", "zo"])
def test_what_deploy_accepts_at_its_edge_trains_and_what_it_refuses_well_below_does_not(tmp_path, capsys, method):
    refused, accepted = 64 * 1024, 256 * 1024
    assert not deploys(refused, method) and deploys(accepted, method)
    while accepted - refused > STEP:
        heap = (accepted + refused) // 2 // 16 * 16
        if deploys(heap, method):
            accepted = heap
        else:
            refused = heap
    capsys.readouterr()
    assert trains(accepted, method, tmp_path / "at-the-edge") == 0, capsys.readouterr().err
    assert list((tmp_path / "at-the-edge").glob("board.ckpt.[01]"))
    assert trains(refused, method, tmp_path / "refused") == 1
    assert "the board refused: MemoryError" in capsys.readouterr().err
