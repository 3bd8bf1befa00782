"""jq.testing declares what it needs: its ``testing`` extra, and a clear error without it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from importlib import metadata
from pathlib import Path


def run_without(modules: list[str], statement: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``statement`` in a fresh interpreter where ``modules`` cannot be imported."""
    code = textwrap.dedent(
        f"""
        import sys
        for name in {modules!r}:
            sys.modules[name] = None  # unimportable, as when it is not installed
        {statement}
        """
    )
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def test_the_testing_extra_names_what_jq_testing_imports():
    requirements = [
        requirement.split(";")[0].replace(" ", "")
        for requirement in metadata.requires("jq-queue") or []
        if 'extra == "testing"' in requirement
    ]
    names = {requirement.split(">")[0].split("[")[0] for requirement in requirements}
    assert names == {"pytest", "hypothesis", "fakeredis"}
    assert any(requirement.startswith("fakeredis[lua]") for requirement in requirements)


def test_the_conformance_suite_without_hypothesis_says_which_extra_to_install(tmp_path):
    done = run_without(["hypothesis"], "import jq.testing.broker_suite", tmp_path)
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last == (
        "ModuleNotFoundError: jq's broker conformance suite (jq.testing.broker_suite) needs pytest "
        "and hypothesis, and hypothesis is not installed: pip install 'jq-queue[testing]'"
    )
