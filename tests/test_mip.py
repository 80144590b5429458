"""`make mip`'s folders install with mpremote's own mip code, and what they install runs: the x64
folder, installed into a board's /lib (a local folder here), is all the virtual board needs to
load a model and classify with the qnn natmod."""

import json
import subprocess
from pathlib import Path

from mpremote import mip

from mcutrain import bench
from mcutrain import model as device_model
from mcutrain_host.board import micropython, mip_package, natmod

TINY = micropython.REPO / "models" / "tiny.mcut"


class FolderBoard:
    """The filesystem calls mpremote's mip makes on a board, on a local folder."""

    def __init__(self, root):
        self.root = Path(root)

    def local(self, path):
        return self.root / path.lstrip("/")

    def fs_exists(self, path):
        return self.local(path).exists()

    def fs_mkdir(self, path):
        self.local(path).mkdir()

    def fs_writefile(self, path, data, progress_callback=None):
        self.local(path).write_bytes(data)


SCRIPT = """
import sys
from mcutrain import model, bench
import qnn
m = model.load(sys.argv[1])
m.plan(batch=1)
logits = m.infer(bench.pattern(m.input_size))
print(qnn.__name__, list(bytes(logits)))
"""


def test_each_arch_folder_holds_the_package_and_its_natmod(tmp_path):
    folders = mip_package.write(tmp_path)
    assert {folder.name for folder in folders} == {f"{arch}_6.3" for arch in natmod.SHIPPED_ARCHS}
    for folder in folders:
        urls = json.loads((folder / "package.json").read_text())["urls"]
        assert all((folder / source).is_file() and target == source for target, source in urls)
        assert ["qnn.mpy", "qnn.mpy"] in urls and ["mcutrain/trainer.mpy", "mcutrain/trainer.mpy"] in urls
        assert natmod.read_header(folder / "qnn.mpy")[2] == folder.name.split("_")[0]


def test_mpremote_mip_installs_a_package_the_board_runs(tmp_path):
    (folder,) = [f for f in mip_package.write(tmp_path / "mip") if f.name.startswith("x64")]
    board = FolderBoard(tmp_path / "board")
    board.root.mkdir()
    mip._install_package(board, str(folder / "package.json"), mip._PACKAGE_INDEX, "/lib", None, True)
    assert (board.root / "lib" / "qnn.mpy").is_file() and (board.root / "lib" / "mcutrain" / "model.mpy").is_file()
    (tmp_path / "script.py").write_text(SCRIPT)
    proc = subprocess.run([str(micropython.unix_binary()), "-X", "heapsize=192K", str(tmp_path / "script.py"),
                           str(TINY)], env={"MICROPYPATH": str(board.root / "lib")}, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    reference = device_model.load(str(TINY))
    reference.plan(batch=1)
    expected = list(bytes(reference.infer(bench.pattern(reference.input_size))))
    assert proc.stdout.split(" ", 1) == ["qnn", f"{expected}\n"]
