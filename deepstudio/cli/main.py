"""The ``deepstudio`` command: the editor with no arguments, tools as subcommands.

User errors (bad files, refused edits, missing consent) print one line naming the file and the
problem and exit with code 2; nothing prints a traceback for them.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from deepstudio import __version__
from deepstudio.errors import Cancelled, DiskFullError, UserError, is_disk_full
from deepstudio.persistence.project_store import MANIFEST_SUFFIX, PROJECT_SUFFIX

EXIT_USER_ERROR = 2

# mediapipe's TensorFlow Lite and absl log lines are noise for people; keep errors only.
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

COMMAND_MODULES = (
    "deepstudio.cli.gui",
    "deepstudio.cli.project",
    "deepstudio.cli.probe",
    "deepstudio.cli.analyze",
    "deepstudio.cli.render",
    "deepstudio.cli.proxy",
    "deepstudio.cli.consent",
    "deepstudio.cli.faceswap",
    "deepstudio.cli.lipsync",
    "deepstudio.cli.farm",
    "deepstudio.cli.batch",
    "deepstudio.cli.evaluate",
    "deepstudio.cli.verify",
    "deepstudio.cli.bench",
    "deepstudio.cli.demo",
)


class VersionAction(argparse.Action):
    """``--version``: DeepStudio's version plus the torch build and device, so that a user
    (or a bug report) can tell the CPU edition from the GPU one."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        from deepstudio.models.device import runtime_report

        frozen = " (installed build)" if getattr(sys, "frozen", False) else ""
        print("\n".join([f"DeepStudio {__version__}{frozen}", *runtime_report()]))
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = argparse.ArgumentParser(
        prog="deepstudio",
        description="DeepStudio: an editor for consenting, disclosed synthetic media. "
                    "Run without a command to open the editor.")
    parser.add_argument("--version", action=VersionAction, nargs=0,
                        help="show the version, the torch build and the compute device")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not args_list:
        args_list = ["gui"]
    elif args_list[0].rstrip("/\\").endswith((PROJECT_SUFFIX, MANIFEST_SUFFIX)):
        args_list = ["gui", *args_list]  # a desktop handing over a project (macOS Finder)
    args = parser.parse_args(args_list)
    if not hasattr(args, "run"):
        parser.print_help()
        return EXIT_USER_ERROR
    try:
        return int(args.run(args) or 0)
    except UserError as exc:
        print(f"deepstudio: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except OSError as exc:
        if not is_disk_full(exc):
            raise
        # a write that no layer turned into a DiskFullError: still one line, naming the file
        # system when the error names the file
        where = str(DiskFullError(exc.filename)) if exc.filename else "no space left on device"
        print(f"deepstudio: error: {where}", file=sys.stderr)
        return EXIT_USER_ERROR
    except Cancelled:
        print("deepstudio: cancelled", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("\ndeepstudio: interrupted", file=sys.stderr)
        return 130


def add_quiet(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="print no progress (for scripts)")
