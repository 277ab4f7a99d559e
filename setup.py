"""The one build step pyproject.toml cannot express: copy the top-level ``resources/`` folder
into the wheel as ``deepstudio/_resources``, where ``deepstudio/resources.py`` looks for it.

Keeping the resources at the top level (not inside the package) lets the desktop files,
icons and installers be used from a checkout as they are; an editable install reads them in
place, so only real (non-editable) builds copy them.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

RESOURCES = Path(__file__).resolve().parent / "resources"


class BuildWithResources(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        target = Path(self.build_lib) / "deepstudio" / "_resources"
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(RESOURCES, target)


setup(cmdclass={"build_py": BuildWithResources})
