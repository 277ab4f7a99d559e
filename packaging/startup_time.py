"""Start-up to a usable editor window, the frozen build against the source install: seconds
from starting the process to the main window being shown (the same point ``deepstudio bench
--gui`` measures from inside), taken by the clock before the process starts, so that the
frozen launcher's unpacking and the interpreter's start count too. Runs alternate between
the two; it prints the best and the median of each.

    python packaging/startup_time.py --frozen dist/DeepStudio/deepstudio \\
        --python .venv/bin/python --runs 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

PROBE = """
import time
from deepstudio.qt.app import open_window, process_until
window = open_window()
process_until(window.isVisible, 30)
print(time.time())
"""


def seconds_to_window(command: list[str], home: str) -> float:
    env = {"PATH": "/usr/bin:/bin", "HOME": home, "LANG": "C.UTF-8",
           "QT_QPA_PLATFORM": "offscreen"}
    start = time.time()
    out = subprocess.run([*command, "-c", PROBE], env=env, cwd=home, capture_output=True,
                         text=True, check=True, timeout=300)
    return float(out.stdout.split()[-1]) - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frozen", required=True, help="the frozen build's deepstudio")
    parser.add_argument("--python", required=True, help="the Python of a source install")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    commands = {"frozen build": [os.path.abspath(args.frozen)],
                "source install": [os.path.abspath(args.python)]}
    times: dict[str, list[float]] = {name: [] for name in commands}
    with tempfile.TemporaryDirectory() as home:
        for command in commands.values():  # one unmeasured run each warms the disk cache
            seconds_to_window(command, home)
        for _ in range(args.runs):
            for name, command in commands.items():
                times[name].append(seconds_to_window(command, home))
    for name, values in times.items():
        print(f"{name}: best {min(values):.2f} s, median {statistics.median(values):.2f} s "
              f"({len(values)} runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
