"""The functions a forward pass calls once a layer keep their frames on MicroPython's C stack.

MicroPython puts the frame (locals and value stack) of a call that needs more than 11 words
(py/objfun.c's VM_MAX_STATE_ON_STACK) on the heap: a gc_alloc and a gc_free a call, and the
alloc scans the heap from its first free block, thousands of instructions on a board's full heap
(docs/benchmarks.md). The sizes are read from the bytecode that mpy-cross makes of the package,
by the pinned MicroPython's tools/mpy-tool.py."""

import importlib.util
import subprocess
import sys

from mcutrain_host.board import micropython, package

MAX_STATE_WORDS = 11
# (class, method) of model.py run once a layer a forward pass, and the pass itself.
HOT = [("Layer", "run"), ("Pool", "run"), ("GlobalAvgPool", "run"), ("Add", "run"), ("Model", "forward")]

def mpy_tool():
    tools = micropython.mpy_dir() / "tools"
    sys.path.append(str(micropython.mpy_dir() / "py"))  # mpy-tool imports makeqstrdata from there
    spec = importlib.util.spec_from_file_location("mpy_tool", tools / "mpy-tool.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.global_qstrs = module.GlobalQStrList()  # what its main() makes before reading
    return module


def state_words(tmp_path):
    """{(class, method): words of its frame} for model.py's methods."""
    out = tmp_path / "model.mpy"
    subprocess.run([str(package.mpy_cross()), "-o", str(out), str(micropython.device_path() / "mcutrain" / "model.py")],
                   check=True)
    compiled = mpy_tool().read_mpy(str(out))
    words = {}
    for cls in compiled.raw_code.children:
        for method in getattr(cls, "children", []):
            n_state, n_exc_stack = method.prelude_signature[:2]
            words[(cls.simple_name.str, method.simple_name.str)] = n_state + 2 * n_exc_stack
    return words


def test_a_layer_run_and_a_forward_pass_keep_their_frames_off_the_heap(tmp_path):
    words = state_words(tmp_path)
    assert {hot: words[hot] for hot in HOT if words[hot] > MAX_STATE_WORDS} == {}
