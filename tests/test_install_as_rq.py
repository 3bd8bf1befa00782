"""``jq.install_as_rq()``, ``JQ_AS_RQ=1`` and ``python -m jq.rq_shim``: code written for RQ imports
jq's modules as ``rq`` (docs/moving-from-rq.md, "Steps").

Each case runs in a fresh interpreter: what ``import rq`` gives depends on what the process did
before, and RQ itself is installed next to jq in the test environment.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PTH_FILE = ROOT / "jq_as_rq.pth"
RQ_INSTALLED = importlib.util.find_spec("rq") is not None


def python(code: str, *args: str, env_extra: dict[str, str] | None = None, cwd: Path | None = None):
    """Run ``code`` (or, with ``args``, python's arguments after it) in a fresh interpreter."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("JQ_")}
    env.update(env_extra or {})
    command = [sys.executable, *(args or ("-c", textwrap.dedent(code)))]
    return subprocess.run(
        command, env=env, cwd=cwd or ROOT, capture_output=True, text=True, timeout=120, check=False
    )


def test_rq_and_its_modules_are_jqs_module_objects():
    done = python(
        """
        import jq
        jq.install_as_rq()
        jq.install_as_rq()  # twice is fine
        import rq, rq.job, rq.registry, rq.worker
        from rq.job import Job
        from rq import Queue, Worker
        import jq.job, jq.registry
        assert rq is jq
        assert rq.job is jq.job and Job is jq.job.Job and Queue is jq.Queue
        assert rq.registry.FailedJobRegistry is jq.registry.FailedJobRegistry
        queue = Queue(connection="memory://")
        job = queue.enqueue("builtins.abs", -2)
        assert isinstance(job, jq.job.Job) and isinstance(job, rq.job.Job)
        # jq's modules still describe themselves
        assert rq.__spec__.name == "jq" and rq.job.__spec__.name == "jq.job"
        assert rq.job.__name__ == "jq.job"
        import importlib
        importlib.reload(rq.job)
        print("ok")
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_an_rq_module_jq_lacks_is_not_found_as_usual():
    done = python(
        """
        import jq
        jq.install_as_rq()
        try:
            import rq.no_such_module
        except ModuleNotFoundError as error:
            print(error.name)
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "rq.no_such_module"


def test_python_dash_m_of_an_rq_module_runs_jqs():
    done = python("", "-m", "jq.rq_shim", "-m", "rq.cli", "--version")
    assert done.returncode == 0, done.stderr
    assert "jqueue" in done.stdout


@pytest.mark.skipif(not RQ_INSTALLED, reason="needs the real rq installed")
def test_the_real_rq_imported_first_is_refused_with_what_to_do():
    done = python(
        """
        import rq.job
        import jq
        from jq.rq_shim import RQAlreadyImportedError
        try:
            jq.install_as_rq()
        except RQAlreadyImportedError as error:
            assert isinstance(error, ImportError)
            print(error)
        import rq
        assert rq is not jq  # nothing was changed
        """
    )
    assert done.returncode == 0, done.stderr
    message = done.stdout
    assert "after the real RQ package was imported" in message
    assert "before anything imports rq" in message
    assert "JQ_AS_RQ=1" in message


def _site_dir(tmp_path: Path) -> Path:
    """A directory holding the .pth file jq's wheel installs, as site-packages would."""
    site_dir = tmp_path / "site"
    site_dir.mkdir()
    shutil.copy(PTH_FILE, site_dir / PTH_FILE.name)
    return site_dir


# site.addsitedir() is what site.py does for site-packages at interpreter start: it runs the
# import lines of every .pth file there.
WHICH_RQ = """
import site, sys
site.addsitedir(sys.argv[1])
import rq
print(rq.__name__)
"""


@pytest.mark.parametrize("value", ["1", "true", "YES", "on"])
def test_the_pth_file_installs_it_when_jq_as_rq_is_set(tmp_path, value):
    done = python("", "-c", WHICH_RQ, str(_site_dir(tmp_path)), env_extra={"JQ_AS_RQ": value})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "jq"


@pytest.mark.parametrize("value", [None, ""])
def test_the_pth_file_only_reads_the_variable_when_it_is_unset(tmp_path, value):
    env = {} if value is None else {"JQ_AS_RQ": value}
    code = WHICH_RQ.replace(
        "import rq\nprint(rq.__name__)", "print('rq' in sys.modules, 'jq' in sys.modules)"
    )
    done = python("", "-c", code, str(_site_dir(tmp_path)), env_extra=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False False"  # not even jq was imported
    assert done.stderr == ""


@pytest.mark.parametrize("value", ["0", "false", "off", "No"])
def test_the_pth_file_does_nothing_when_the_variable_says_no(tmp_path, value):
    code = WHICH_RQ.replace(
        "import rq\nprint(rq.__name__)",
        "import jq.rq_shim as s; print('rq' in sys.modules, s.is_installed())",
    )
    done = python("", "-c", code, str(_site_dir(tmp_path)), env_extra={"JQ_AS_RQ": value})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False False"
    assert done.stderr == ""


def test_a_value_the_pth_file_does_not_understand_is_reported_once(tmp_path):
    code = WHICH_RQ.replace(
        "import rq\nprint(rq.__name__)", "import jq.rq_shim as s; print(s.is_installed())"
    )
    done = python("", "-c", code, str(_site_dir(tmp_path)), env_extra={"JQ_AS_RQ": "maybe"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
    assert "JQ_AS_RQ='maybe' is not understood" in done.stderr


@pytest.mark.skipif(not RQ_INSTALLED, reason="needs the real rq installed")
def test_the_real_rq_already_imported_makes_the_variable_a_warning_not_a_crash(tmp_path):
    code = "import rq, site, sys\nsite.addsitedir(sys.argv[1])\nprint(rq.__name__, sys.modules['rq'] is rq)"
    done = python("", "-c", code, str(_site_dir(tmp_path)), env_extra={"JQ_AS_RQ": "1"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "rq True"
    assert "JQ_AS_RQ=1 ignored" in done.stderr


def test_python_dash_m_jq_rq_shim_runs_a_script_with_it(tmp_path):
    script = tmp_path / "app.py"
    script.write_text("import sys, rq, jq\nprint(rq is jq, sys.argv[1:])\n")
    done = python("", "-m", "jq.rq_shim", str(script), "a", "b", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True ['a', 'b']"


def test_python_dash_m_jq_rq_shim_runs_a_module_with_it(tmp_path):
    (tmp_path / "rq_app.py").write_text("import sys, rq, jq\nprint(rq is jq, sys.argv[1:])\n")
    done = python(
        "", "-m", "jq.rq_shim", "-m", "rq_app", "x", cwd=tmp_path, env_extra={"PYTHONPATH": str(tmp_path)}
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True ['x']"
    usage = python("", "-m", "jq.rq_shim")
    assert usage.returncode == 2
    assert "usage: python -m jq.rq_shim" in usage.stderr


@pytest.mark.slow
def test_the_wheel_puts_the_pth_file_in_site_packages(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", PTH_FILE.name):
        shutil.copy(ROOT / name, source / name)
    for package in ("jq", "jq_backends"):
        shutil.copytree(ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        assert archive.read(PTH_FILE.name) == PTH_FILE.read_bytes()  # at the root: purelib
