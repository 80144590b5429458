"""Settings: one parser for --set, --config files and lines typed during a run, errors that name
the key (and the file and line), and settings the board would refuse refused on the host first,
each as one line with exit code 2 (#15 items 13, 14)."""

import io
import json
import time

import pytest

from mcutrain_host import cli
from mcutrain_host.commands.train import LiveSettings


def train(tmp_path, *flags):
    return cli.main(["train", "--port", "sim", "--samples", "4", "--test", "4", "--out", str(tmp_path / "run"),
                     *flags])


def test_a_config_file_takes_spaces_comments_and_blank_lines(tmp_path):
    config = tmp_path / "settings.txt"
    config.write_text("# tuned on fog\nlr = 0.002\n\nqueries = 3   # fewer\n")
    assert train(tmp_path, "--config", str(config), "--method", "zo") == 0


@pytest.mark.parametrize("flags, message", [
    (["--set", "lr=abc"], "--set lr=abc: lr takes a number"),
    (["--set", "queries=2.5"], "queries=2.5: queries takes a whole number"),
    (["--set", "colour=red"], "unknown setting 'colour'"),
    (["--set", "plan=tight"], "plan=tight: plan takes fast, lean or a number of bytes"),
])
def test_bad_settings_are_one_line_and_exit_code_2(tmp_path, capsys, flags, message):
    assert train(tmp_path, *flags) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err, err
    assert not (tmp_path / "run").exists()


def test_a_bad_config_line_names_the_file_and_line(tmp_path, capsys):
    config = tmp_path / "settings.txt"
    config.write_text("lr = 0.002\nqueries = many\n")
    assert train(tmp_path, "--config", str(config)) == 2
    assert f"{config}, line 2: queries=many: queries takes a whole number" in capsys.readouterr().err


def test_typed_settings_keep_their_meaning_with_spaces():
    live = LiveSettings(io.StringIO("lr = 0.005\nmode = np\n"))
    settings, deadline = {}, time.monotonic() + 5
    while len(settings) < 2 and time.monotonic() < deadline:  # the reader is a thread
        settings.update(live())
        time.sleep(0.01)
    assert settings == {"lr": 0.005, "mode": "np"}


def test_the_plan_is_a_setting_and_the_run_records_which_the_board_took(tmp_path):
    assert train(tmp_path, "--set", "plan=lean", "--method", "zo", "--mode", "wp") == 0
    end = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])
    assert end["board_stats"]["plan"] == "lean, as asked" and end["settings"]["plan"] == "lean"


def test_a_run_without_settings_trains_by_the_default_zo_method_and_a_config_file_overrides_it(tmp_path):
    """#18 item 4: the study's best ZO method is what `--method zo` trains by; a --config line
    replaces a default, a flag replaces both, and `--layers all` means every weighted layer."""
    def settings(*flags):
        out = tmp_path / f"run{len(list(tmp_path.iterdir()))}"
        assert cli.main(["train", "--port", "sim", "--samples", "4", "--test", "4", "--out", str(out), *flags]) == 0
        end = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
        return end["settings"], end["board_stats"]["layers"]

    chosen, layers = settings()
    assert (chosen["mode"], chosen["layers"], chosen["queries"], chosen["standardize"], chosen["lr"]) == \
        ("np", [-2, -1], 30, True, 0.003)
    assert layers == "[(4, 'np'), (6, 'np')]"
    config = tmp_path / "settings.txt"
    config.write_text("mode = wp\nqueries = 3\n")
    chosen, layers = settings("--config", str(config), "--queries", "2", "--layers", "all")
    assert (chosen["mode"], chosen["queries"], chosen["standardize"]) == ("wp", 2, True)
    assert layers == "[(0, 'wp'), (2, 'wp'), (4, 'wp'), (6, 'wp')]"
    chosen, _ = settings("--method", "hybrid")
    assert (chosen["mode"], chosen["lr"]) == ("mix", 0.003) and "standardize" not in chosen
