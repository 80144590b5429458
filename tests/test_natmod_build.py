"""The natmod build: one .mpy per shipped arch, each with the right header, the x64 one
importable on the virtual board under an RP2040-sized heap."""

import pytest

from mcutrain_host.board import micropython, natmod


@pytest.mark.parametrize("arch", natmod.SHIPPED_ARCHS)
def test_header_carries_arch_and_abi(arch):
    path = micropython.natmod_dir(arch) / "qnn.mpy"
    assert natmod.read_header(path) == (natmod.MPY_VERSION, natmod.MPY_SUB_VERSION, arch)


def test_header_reader_rejects_non_native_files(tmp_path):
    bytecode = tmp_path / "plain.mpy"
    bytecode.write_bytes(b"M\x06\x03\x1f")
    with pytest.raises(ValueError, match="not a native"):
        natmod.read_header(bytecode)


def test_virtual_board_reports_x64_and_abi_6_3(board):
    word = int(board.run("import sys; print(sys.implementation._mpy)"))
    assert natmod.board_target(word) == (natmod.MPY_VERSION, natmod.MPY_SUB_VERSION, "x64")


def test_x64_natmod_imports_under_192k_heap(board):
    out = board.run("""
        import gc, qnn
        gc.collect()
        print(qnn.__name__, 'fully_connected' in dir(qnn))
    """, heap="192K")
    assert out.split() == ["qnn", "True"]


def test_thumb_boards_pick_the_newest_loadable_build():
    assert natmod.natmod_for("qnn", "armv7emsp").parent.name == "armv7emsp_6.3"
    assert natmod.natmod_for("qnn", "armv6m").parent.name == "armv6m_6.3"
    assert natmod.natmod_for("qnn", "xtensa") is None


def test_armv6m_module_fits_its_ram_budget():
    """Natmod code sits in RAM on the board: the RP2040 build must stay under 32 KB."""
    assert (micropython.natmod_dir("armv6m") / "qnn.mpy").stat().st_size < 32 * 1024
