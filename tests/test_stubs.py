"""The editor stubs in device/stubs say what the code does: qnn.pyi names every function the
natmod exports on MicroPython, with the reference's parameters, and the REPL API's stubs have the
real methods' parameters and defaults."""

import ast
import inspect
import subprocess

import pytest

import mcutrain.reference
from mcutrain import model, trainer
from mcutrain_host.board import micropython, virtual

STUBS = micropython.REPO / "device" / "stubs"


def stub_functions(path):
    """{qualified name: (parameter names, literal defaults)} of a .pyi's functions and methods."""
    found = {}

    def signature(node):
        args = node.args
        names = [a.arg for a in args.args + args.kwonlyargs]
        defaults = [ast.literal_eval(d) for d in args.defaults]
        return names, defaults

    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.FunctionDef):
            found[node.name] = signature(node)
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    found[f"{node.name}.{item.name}"] = signature(item)
    return found


def stub_constants(path):
    """The names a .pyi annotates at module level (`NAME: int`), other than type aliases."""
    return {node.target.id for node in ast.parse(path.read_text()).body if isinstance(node, ast.AnnAssign)}


def real_signature(function):
    parameters = list(inspect.signature(function).parameters.values())
    return ([p.name for p in parameters if p.kind != p.VAR_KEYWORD],
            [p.default for p in parameters if p.default is not p.empty])


def test_qnn_stub_names_what_the_natmod_exports_with_the_references_parameters():
    proc = subprocess.run([str(micropython.unix_binary()), "-c",
                           "import qnn; print(' '.join(sorted(n for n in dir(qnn) if not n.startswith('_'))))"],
                          env=virtual.board_env(), capture_output=True, text=True, timeout=60)
    exported = set(proc.stdout.split())
    stubs, constants = stub_functions(STUBS / "qnn.pyi"), stub_constants(STUBS / "qnn.pyi")
    assert exported and set(stubs) | constants == exported
    assert all(hasattr(mcutrain.reference, name) for name in constants)
    for name, (parameters, _) in stubs.items():
        assert parameters == real_signature(getattr(mcutrain.reference, name))[0], name


@pytest.mark.parametrize("module", [model, trainer])
def test_repl_api_stubs_have_the_real_parameters_and_defaults(module):
    stubs = stub_functions(STUBS / "mcutrain" / f"{module.__name__.split('.')[-1]}.pyi")
    assert stubs
    for name, (parameters, defaults) in stubs.items():
        owner, _, method = name.rpartition(".")
        real = getattr(getattr(module, owner), method) if owner else getattr(module, name)
        real_parameters, real_defaults = real_signature(real)
        assert (parameters, defaults) == (real_parameters, real_defaults), name
