"""The README tells the truth: its REPL session runs as printed in `mcutrain repl`, its demo and
qemu-m0 commands print the figures it quotes, the `mcutrain` command is where it says, and it
sends users to no file they do not have."""

import ast
import re
import subprocess
import sys
from pathlib import Path

from mcutrain_host.board import micropython
from test_qemu_boards import pytestmark as needs_qemu

README = (micropython.REPO / "README.md").read_text()


def mcutrain(*args, cwd=None, stdin=None, timeout=600):
    return subprocess.run([sys.executable, "-m", "mcutrain_host.cli", *args], cwd=cwd, input=stdin,
                          capture_output=True, text=True, timeout=timeout)


def repl_session():
    """[(typed line, [printed lines])] of the README's `>>>` session."""
    block = README[README.index("    >>> del m, t"):]
    block = block[:block.index("\n\n")]
    session = []
    for line in block.splitlines():
        line = line[4:]
        if line.startswith(">>> "):
            session.append((line[4:].split("  #")[0].rstrip(), []))
        else:
            session[-1][1].append(line)
    return session


def test_the_readme_repl_session_runs_in_mcutrain_repl(tmp_path):
    # `repl` needs a run, and opens where the user typed it, not in the run's flash folder.
    run = mcutrain("train", "--port", "sim", "--samples", "5", "--test", "10", "--out", str(tmp_path / "run"))
    assert run.returncode == 0, run.stderr
    (tmp_path / "models").symlink_to(micropython.REPO / "models")
    export = mcutrain("corrupt", "--export", "x0.bin", "--count", "1", "--model", "models/tiny.mcut", cwd=tmp_path)
    assert export.returncode == 0, export.stderr
    session = repl_session()
    # After each line a marker that its echo does not contain: the output between two is that line's.
    typed = "".join(f"{line}\nprint('@@' + str({i}) + '@@')\n" for i, (line, _) in enumerate(session))
    proc = mcutrain("repl", "--port", "sim", "--run", str(tmp_path / "run"), cwd=tmp_path, stdin=typed, timeout=120)
    assert proc.returncode == 0 and "Traceback" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    chunks = re.split(r"@@\d+@@", proc.stdout)
    assert len(chunks) == len(session) + 1, proc.stdout
    for (line, expected), chunk in zip(session, chunks):
        printed = [p for p in chunk.splitlines() if p.strip() and not p.startswith(">>>")]
        if line == "t.memory()":  # what the session did before shows in these two; the plan does not
            shown, quoted = ast.literal_eval(printed[-1]), ast.literal_eval(expected[0])
            mutable = ("heap", "code_and_objects")
            assert {k: v for k, v in shown.items() if k not in mutable} == \
                {k: v for k, v in quoted.items() if k not in mutable} and shown.keys() == quoted.keys()
        elif line == "t.stats()":  # the plan's reason ends with the free heap, which the session sets
            shown, quoted = ast.literal_eval(printed[-1]), ast.literal_eval(expected[0])
            free = re.compile(r"fits in \d+$")
            shown["plan"], quoted["plan"] = free.sub("fits in", shown["plan"]), free.sub("fits in", quoted["plan"])
            assert shown == quoted and list(shown) == list(quoted), (shown, quoted)
        else:
            assert printed[len(printed) - len(expected):] == expected, (line, chunk)


def test_make_demo_prints_the_figures_the_readme_quotes(tmp_path):
    proc = mcutrain("demo", "--out", str(tmp_path / "run"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for quoted in re.findall(r"^    (accuracy (?:before|after) adaptation: .*)$", README, re.M):
        assert quoted in proc.stdout
    samples = re.search(r"^    (samples applied: .*)$", README, re.M).group(1)
    assert samples in proc.stdout


@needs_qemu[0]
@needs_qemu[1]
def test_the_readme_qemu_m0_command_prints_the_figures_it_quotes(tmp_path):
    command = re.search(r"^    mcutrain (train --port qemu-m0 .*)$", README, re.M).group(1).split()
    figures = re.search(r"prints ([\d.]+%) -> ([\d.]+%) on 1,000 held-out", README)
    proc = mcutrain(*command, "--out", str(tmp_path / "run"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"accuracy before adaptation: {figures.group(1)}" in proc.stdout
    assert f"accuracy after adaptation:  {figures.group(2)}" in proc.stdout


def test_the_mcutrain_command_is_in_the_venv_the_readme_names():
    assert "source .cache/venv/bin/activate" in README
    script = Path(sys.executable).parent / "mcutrain"
    proc = subprocess.run([str(script), "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "usage: mcutrain" in proc.stdout


def test_readme_and_docs_cite_only_files_users_have():
    for path in [micropython.REPO / "README.md", *sorted((micropython.REPO / "docs").glob("*.md"))]:
        for cited in re.findall(r"(?<![\w/])((?:docs|tests|host|device|native_modules|experiments|bench|tools|boards|shared)"
                                r"/[\w./-]+\.(?:md|py|toml|c|h))", path.read_text()):
            assert (micropython.REPO / cited).exists(), f"{path.name} cites {cited}, which is not in the repository"
