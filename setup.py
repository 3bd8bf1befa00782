"""Builds jq-queue; all metadata is in pyproject.toml.

One step pyproject.toml cannot say: the wheel carries ``jq_as_rq.pth`` at its root, so that pip
installs it into site-packages, where Python runs its one line at every start. The line reads one
environment variable and stops there unless ``JQ_AS_RQ`` is set; with ``JQ_AS_RQ=1`` it calls
``jq.rq_shim.install_from_environment()``, and ``import rq`` imports jq in that program (see
docs/moving-from-rq.md). A file at the wheel's root needs a build step: package data lives inside
a package, and setuptools' ``data_files`` is deprecated and lands in the wrong directory for this.
setuptools' own wheel ships ``distutils-precedence.pth`` the same way.
"""

from __future__ import annotations

import os

from setuptools import setup
from setuptools.command.build_py import build_py

PTH_FILE = "jq_as_rq.pth"


class BuildPyWithPth(build_py):
    """``build_py`` that also puts :data:`PTH_FILE` at the root of what the wheel installs."""

    def run(self) -> None:
        super().run()
        if not getattr(self, "editable_mode", False):
            self.copy_file(PTH_FILE, os.path.join(self.build_lib, PTH_FILE), preserve_mode=False)

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = list(super().get_outputs(include_bytecode))
        if not getattr(self, "editable_mode", False):
            outputs.append(os.path.join(self.build_lib, PTH_FILE))
        return outputs


setup(cmdclass={"build_py": BuildPyWithPth})
