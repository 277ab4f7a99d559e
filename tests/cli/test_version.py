"""``deepstudio --version``: the version, the torch build and the compute device, so that a
user (or a bug report) can tell the CPU edition from the GPU one."""

from __future__ import annotations

import re

import pytest

from deepstudio import __version__
from deepstudio.cli.main import main


def test_version_names_the_torch_build_and_the_device(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    version, build, device = capsys.readouterr().out.splitlines()
    assert version == f"DeepStudio {__version__}"  # a source install; frozen adds a note
    assert re.fullmatch(r"torch \S+ \((CPU|CUDA [\d.]+) build\)", build)
    assert re.fullmatch(r"device: (CPU.*|CUDA, .+ \(\d+ GiB\).*)", device)
