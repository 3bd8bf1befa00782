"""django-rq and rq-dashboard run on jq, unchanged, through ``jq.install_as_rq()``.

Each add-on's suite (``addon_<name>.py`` beside this file) runs in a pytest process of its own,
started as ``python -m jq.rq_shim -m pytest``: there ``import rq`` is jq, as in an application that
follows docs/moving-from-rq.md. It cannot run in this process: the real RQ is installed next to jq
in the test environment (the benchmarks and the migration test run it), and importing it here
would make ``rq`` mean RQ for every test after.

To run one suite by hand::

    python -m jq.rq_shim -m pytest tests/addons/addon_django_rq.py -o 'python_files=addon_*.py' \
        -W ignore::pytest.PytestAssertRewriteWarning
"""

from __future__ import annotations

import importlib.util

import pytest

from tests.addons.conftest import run_python

#: suite file -> the distributions it needs (installed by the ``test`` extra).
SUITES = {
    "addon_django_rq.py": ("django_rq", "django"),
    "addon_rq_dashboard.py": ("rq_dashboard", "flask"),
}


@pytest.mark.timeout(600)
@pytest.mark.parametrize("suite", sorted(SUITES))
def test_addon_suite(suite: str) -> None:
    missing = [name for name in SUITES[suite] if importlib.util.find_spec(name) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (pip install -e '.[test]')")
    done = run_python(
        "-m", "jq.rq_shim", "-m", "pytest", f"tests/addons/{suite}",
        "-o", "python_files=addon_*.py", "-p", "no:cacheprovider", "-q",
        # jq is imported before pytest (by the shim), so pytest cannot rewrite its asserts
        "-W", "ignore::pytest.PytestAssertRewriteWarning",
        timeout=540,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-20000:] + done.stderr[-5000:]
