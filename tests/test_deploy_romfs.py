"""`mcutrain deploy --romfs` (issue #16): one ROMFS image of the package, the natmod and the model,
written with `mpremote romfs deploy` to the ROMFS partition of an emulated Cortex-M0 whose firmware
has one (boards/qemu/romfs_partition.c: its flash, written through the nRF51's NVMC); the board
then imports the bytecode from /rom and the deploy's own check builds the plan there. A board
without a partition (the virtual board's firmware) is refused with what to do instead."""

import shutil
import subprocess
import sys

import pytest

from mcutrain_host import cli
from mcutrain_host.board import deploy, virtual
from mcutrain_host.board import qemu
from test_trainer import TINY

needs_qemu = pytest.mark.skipif(
    shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None
    and not qemu.firmware("qemu-m0").exists(), reason="qemu-system-arm or the qemu firmware is missing")


@needs_qemu
def test_deploy_romfs_writes_the_partition_and_the_board_runs_from_it(tmp_path, capsys):
    board = qemu.QemuBoard("qemu-m0", None, serve=False)
    try:
        assert board.exec("import os\nprint('rom' in os.listdir('/'))").split() == [b"False"]  # just flashed
        with board.handed_over() as port:
            assert cli.main(["deploy", "--port", port, "--romfs", "--model", str(TINY), "--method", "zo"]) == 0
        out = capsys.readouterr().out
        assert "its ROMFS partition, mounted at /rom" in out and "the server, started, says" in out, out
        # The server the deploy started ran from the image; after another reset it still imports from /rom.
        board.repl.enter_raw_repl(soft_reset=True)
        found = board.exec("import mcutrain, qnn, os\nprint(mcutrain.__file__, os.stat('/rom/model.mcut')[6])")
        package, model_bytes = found.decode().split()
        assert package == "/rom/lib/mcutrain/__init__.mpy" and int(model_bytes) == TINY.stat().st_size
    finally:
        board.close()


def test_a_board_without_a_romfs_partition_is_refused_with_what_to_do(tmp_path):
    script = tmp_path / "probe.py"
    script.write_text(deploy.ROMFS_PROBE)
    proc = virtual.run_script(script, heap="256K")
    assert proc.returncode == 0, proc.stderr
    with pytest.raises(deploy.DeployError, match="no ROMFS partition.*Deploy without --romfs"):
        deploy.romfs_partition(proc.stdout.decode())


def test_the_virtual_board_takes_no_romfs_deploy():
    proc = subprocess.run([sys.executable, "-m", "mcutrain_host.cli", "deploy", "--port", "sim", "--romfs"],
                          capture_output=True, text=True)
    assert proc.returncode == 1 and "no ROMFS partition" in proc.stderr, proc.stderr
