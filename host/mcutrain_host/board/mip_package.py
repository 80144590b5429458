"""The device package as `mpremote mip install` takes it: one folder per natmod arch.

    python -m mcutrain_host.board.mip_package build/mip       (what `make mip` runs)
    mpremote mip install build/mip/armv6m_6.3/package.json    (an RP2040; mip puts it in /lib)

Each <arch>_<abi> folder holds the package's bytecode, that arch's qnn natmod and a
package.json whose relative URLs name them, as emlearn-micropython publishes a build per
<arch>_<abi>: the user picks the folder of the board's arch (sys.implementation._mpy >> 10 on
the board; `mcutrain deploy` picks it by itself). No model goes with it: copy one with mpremote.
"""

import json
import shutil
import sys
from pathlib import Path

from mcutrain_host.board import micropython, natmod, package

VERSION = "0.1.0"


def write(dest):
    """The folder of every arch whose natmod is built; returns their paths."""
    bytecode = package.compiled()
    folders = []
    for arch in natmod.SHIPPED_ARCHS:
        qnn = micropython.natmod_dir(arch) / "qnn.mpy"
        if not qnn.exists():
            continue
        folder = Path(dest) / f"{arch}_{micropython.MPY_ABI}"
        if folder.exists():
            shutil.rmtree(folder)
        files = [(source, source.relative_to(bytecode).as_posix()) for source in sorted(bytecode.rglob("*.mpy"))]
        files.append((qnn, "qnn.mpy"))
        for source, name in files:
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, folder / name)
        (folder / "package.json").write_text(json.dumps(
            {"urls": [[name, name] for _, name in files], "version": VERSION}, indent=1) + "\n")
        folders.append(folder)
    if not folders:
        raise FileNotFoundError("no qnn natmod is built: run `make natmods` first")
    return folders


if __name__ == "__main__":
    for built in write(sys.argv[1]):
        print(f"mpremote mip install {built / 'package.json'}")
