"""README's two commands stay true: the test command is what CI runs, the demo runs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    """The shell commands in README's ```sh blocks."""
    text = (ROOT / "README.md").read_text()
    return [block.strip() for block in re.findall(r"```sh\n(.*?)```", text, re.S)]


def test_readme_has_the_two_commands_and_ci_runs_the_test_one():
    demo, tests = readme_commands()
    assert "examples/quickstart.py" in demo and "pip install ." in demo
    assert "pytest" in tests and "[test]" in tests
    assert tests in (ROOT / ".ci" / "run").read_text()


def test_quickstart_demo_runs(tmp_path):
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "quickstart.py")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "count_words   -> finished: 9" in lines
    assert "send_report   -> finished: report sent to ops@example.com" in lines
    assert "divide(1, 0)  -> failed: ZeroDivisionError: division by zero" in lines
    assert "in a second   -> finished: 4" in lines  # scheduled, queued by the worker's scheduler
    assert lines[-1] == "registries: finished=4 failed=1 queued=0"
