"""jq.testing declares what it needs: its ``testing`` extra, and a clear error without it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from importlib import metadata
from pathlib import Path


def run_without(modules: list[str], statement: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``statement`` in a fresh interpreter where ``modules`` cannot be imported, as when
    they are not installed."""
    code = textwrap.dedent(
        f"""
        import sys

        class NotInstalled:
            def find_spec(self, name, path=None, target=None):
                if name.partition(".")[0] in {modules!r}:
                    raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)

        sys.meta_path.insert(0, NotInstalled())
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


def test_the_pytest_plugin_needs_pytest_only(tmp_path):
    (tmp_path / "test_it.py").write_text(
        "from jq.testing import run_until_idle\n\n\n"
        "def test_it(jq_queue, jq_worker, jq_clock):\n"
        "    job = jq_queue.enqueue('builtins.abs', -3)\n"
        "    assert jq_worker.run_until_idle().jobs == [job]\n"
        "    assert job.result == 3\n"
    )
    # Without hypothesis installed, its own pytest plugin would not be there either.
    arguments = ["-q", "-p", "no:cacheprovider", "-p", "no:hypothesispytest", "test_it.py"]
    statement = f"import pytest; sys.exit(pytest.main({arguments!r}))"
    done = run_without(["hypothesis", "fakeredis", "lupa"], statement, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
