"""Entry point of the frozen build: ``deepstudio`` behaves as the ``deepstudio`` command of a
source install, and also as a small Python interpreter for the two forms DeepStudio starts
helper processes with, because in a frozen build ``sys.executable`` is this launcher:

- ``deepstudio -m MODULE ARGS…`` (the face-embedding helper, ``bench``'s render probe);
- ``deepstudio -c CODE ARGS…`` (``bench --gui``'s start-up probe, multiprocessing's helpers).

Interpreter flags before them (``-B -s -E -I -O -u``, as multiprocessing adds) are skipped.
"""

from __future__ import annotations

import multiprocessing
import re
import runpy
import sys

_FLAGS = re.compile(r"-[BsEIOSuq]+")


def main() -> int:
    multiprocessing.freeze_support()  # a spawned worker runs here, then exits
    args = sys.argv[1:]
    while args and _FLAGS.fullmatch(args[0]):
        args = args[1:]
    if len(args) >= 2 and args[0] == "-m":
        sys.argv = [sys.argv[0], *args[2:]]
        runpy.run_module(args[1], run_name="__main__", alter_sys=True)
        return 0
    if len(args) >= 2 and args[0] == "-c":
        sys.argv = ["-c", *args[2:]]
        exec(compile(args[1], "<string>", "exec"), {"__name__": "__main__"})
        return 0
    from deepstudio.cli.main import main as deepstudio_main

    return deepstudio_main()


if __name__ == "__main__":
    sys.exit(main())
