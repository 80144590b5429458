"""`mcutrain`: the host tool. One module per subcommand in mcutrain_host/commands/."""

import argparse
import os
import sys

# Before NumPy loads: one BLAS thread makes float training bit-for-bit reproducible whatever the
# machine's core count, and on 2 shared cores it is as fast as two contending threads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from mcutrain.model_file import ModelError  # noqa: E402
from mcutrain_host.commands import (bench, boards, corrupt, demo, deploy, evaluate, experiment, export,  # noqa: E402
                                    import_model, plot, pretrain, pull, quantize, repl, train)
from mcutrain_host.adaptation_data import ShapeMismatch  # noqa: E402
from mcutrain_host.board.deploy import DeployError  # noqa: E402
from mcutrain_host.board.link import LinkDown  # noqa: E402
from mcutrain_host.datasets import DatasetError  # noqa: E402
from mcutrain_host.run_folder import RunError  # noqa: E402
from mcutrain_host.settings import SettingsError  # noqa: E402

COMMANDS = (pretrain, import_model, quantize, evaluate, export, corrupt, boards, deploy, train, plot, bench, repl, pull,
            demo, experiment)

EPILOG = """\
the pipeline, as `make models` runs it:
  mcutrain pretrain --model tiny -o models/tiny-float.npz
  mcutrain quantize models/tiny-float.npz -o models/tiny.mcut
  mcutrain eval models/tiny-float.npz
  mcutrain eval models/tiny.mcut

on the virtual board, the committed model adapting to noisy images (`make demo`):
  mcutrain demo

on a board (or --port sim), adapting to a corruption over the serial link:
  mcutrain boards
  mcutrain deploy --port /dev/ttyACM0 --method fqt
  mcutrain train --port /dev/ttyACM0 --method fqt --corruption fog --severity 5
  mcutrain plot runs/<time>
  mcutrain repl --port /dev/ttyACM0
  mcutrain pull --port /dev/ttyACM0 -o adapted.mcut

a model of your own, and an adapted one back out (README, "Your own model"):
  mcutrain import model.onnx -o model.npz
  mcutrain quantize model.npz -o model.mcut
  mcutrain export model.mcut -o model-int8.onnx --check 1000

the adaptation study of every method on every corruption (docs/results.md):
  mcutrain experiment --config experiments/severity5.toml --out experiments/severity5 --report docs/results.md

exit codes: 0 done, 1 a dataset, model file or board failed (the message says what to do),
2 bad usage (a setting, a port, a dataset of another image size), 130 interrupted (Ctrl-C)
"""


def parser():
    p = argparse.ArgumentParser(
        prog="mcutrain", description="On-device training of int8 networks on MicroPython boards: the host tool.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(commands)
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except (DatasetError, DeployError, ModelError, OSError, LinkDown, RunError) as e:
        print(f"mcutrain {args.command}: {e}", file=sys.stderr)
        return 1
    except (ShapeMismatch, SettingsError) as e:
        print(f"mcutrain {args.command}: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\nmcutrain {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
