"""`./mvs test` on two cores: the pytest command line it builds (mvsctl/suite.py), and the split
itself (tests/scheduling.py) run for real by pytest-xdist on a small suite of its own: the tests
that share the Docker engine run on one worker, each module stays whole on one worker, and the
fast tier leaves out what needs a server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mvsctl.suite import pytest_args

ROOT = Path(__file__).resolve().parents[2]


# ---- the command line ---------------------------------------------------------------------------


def test_the_whole_suite_runs_on_every_core_and_one_more_grouped_and_in_the_order_given():
    args = pytest_args([], environ={}, cpu_count=2)
    assert args[: args.index("--no-loadscope-reorder") + 1] == [
        "-n",
        "3",
        "--dist",
        "loadgroup",
        "--no-loadscope-reorder",
    ]
    assert "--durations=15" in args
    assert "-m" not in args


def test_one_core_gets_two_workers_and_the_environment_can_say_how_many():
    assert pytest_args([], environ={}, cpu_count=1)[:2] == ["-n", "2"]
    assert pytest_args([], environ={"MVS_TEST_WORKERS": "5"}, cpu_count=2)[:2] == ["-n", "5"]


@pytest.mark.parametrize("value", ["abc", "0", "-1", "2.5"])
def test_a_workers_count_it_cannot_use_is_one_line_naming_the_variable(value):
    done = subprocess.run(
        [str(ROOT / "mvs"), "test", "--collect-only", "-q", "tests/ops/test_suite_split.py"],
        env={**os.environ, "MVS_TEST_WORKERS": value},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert (
        last.startswith(f"error: MVS_TEST_WORKERS={value!r}: it takes a whole number")
        and "Traceback" not in done.stderr
    )
    assert done.stdout == ""


def test_fast_keeps_to_the_tests_that_are_not_slow_and_is_not_passed_on():
    args = pytest_args(["--fast", "tests/spec"], environ={}, cpu_count=2)
    assert "--fast" not in args
    assert args[args.index("-m") + 1] == "not slow"
    assert args[-1] == "tests/spec"


@pytest.mark.parametrize(
    "given", [["-n", "4"], ["-n4"], ["--numprocesses=4"], ["--numprocesses", "4"], ["-p", "no:xdist"], ["-pno:xdist"]]
)
def test_what_the_caller_says_about_workers_wins(given):
    args = pytest_args(given, environ={"MVS_TEST_WORKERS": "7"}, cpu_count=2)
    assert "--dist" not in args and "7" not in args
    assert args[-len(given) :] == given


def test_a_chosen_durations_count_is_kept():
    args = pytest_args(["--durations=0"], environ={}, cpu_count=2)
    assert [a for a in args if a.startswith("--durations")] == ["--durations=0"]


def test_what_pytest_addopts_says_counts_as_said():
    args = pytest_args([], environ={"PYTEST_ADDOPTS": "--durations=0 -p no:xdist"}, cpu_count=2)
    assert not [a for a in args if a.startswith("--durations")] and "-n" not in args


# ---- the split, run by pytest-xdist -----------------------------------------------------------------

CONFTEST = """
import json, os
import pytest
from tests import scheduling

@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    scheduling.assign(items)

def record(request, what):
    with open(os.environ["SPLIT_RECORD"], "a") as out:
        out.write(json.dumps({"test": request.node.nodeid, "worker": os.environ.get("PYTEST_XDIST_WORKER"),
                              "what": what}) + "\\n")

@pytest.fixture(scope="session")
def docker_host():
    return "unix:///the-one-engine.sock"

@pytest.fixture(scope="session")
def engine(docker_host):
    return docker_host

@pytest.fixture(scope="session")
def pg_server():
    return "a server"

@pytest.fixture(autouse=True)
def recorded(request):
    record(request, "ran")
"""


def engine_module(name: str) -> str:
    return "\n".join(f"def test_{name}_{i}(engine):\n    assert engine\n" for i in range(4))


def stand_in_module(name: str) -> str:
    """A module with an `engine` fixture of its own (a stand-in): not the Docker engine's group."""
    fixture = "import pytest\n\n@pytest.fixture\ndef engine():\n    return 'a stand-in'\n\n"
    return fixture + "\n".join(f"def test_{name}_{i}(engine):\n    assert engine\n" for i in range(3))


def plain_module(name: str, fixture: str = "") -> str:
    return "\n".join(f"def test_{name}_{i}({fixture}):\n    assert True\n" for i in range(6))


@pytest.fixture
def small_suite(tmp_path: Path) -> Path:
    suite = tmp_path / "suite"
    (suite / "tests").mkdir(parents=True)
    (suite / "tests" / "conftest.py").write_text(CONFTEST)
    (suite / "tests" / "test_engine_one.py").write_text(engine_module("one"))
    (suite / "tests" / "test_engine_two.py").write_text(engine_module("two"))
    for name in ("alpha", "beta", "gamma", "delta"):
        (suite / "tests" / f"test_{name}.py").write_text(plain_module(name))
    (suite / "tests" / "test_database.py").write_text(plain_module("database", "pg_server"))
    (suite / "tests" / "test_stand_in.py").write_text(stand_in_module("stand_in"))
    (suite / "pytest.ini").write_text("[pytest]\nmarkers =\n    slow: needs a server\n")
    return suite


def run_suite(suite: Path, *args: str) -> list[dict]:
    record = suite / "record.jsonl"
    record.write_text("")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SPLIT_RECORD": str(record)}
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args, "tests"]
    done = subprocess.run(command, cwd=suite, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return [json.loads(line) for line in record.read_text().splitlines()]


def test_engine_tests_share_one_worker_and_every_module_stays_on_one(small_suite):
    runs = run_suite(small_suite, *pytest_args([], environ={"MVS_TEST_WORKERS": "2"}))

    assert len(runs) == 2 * 4 + 5 * 6 + 3
    by_module: dict[str, set[str]] = {}
    for run in runs:
        by_module.setdefault(run["test"].split("::")[0], set()).add(run["worker"])
    engine_workers = by_module["tests/test_engine_one.py"] | by_module["tests/test_engine_two.py"]
    assert len(engine_workers) == 1, by_module
    assert all(len(workers) == 1 for workers in by_module.values()), by_module
    assert {w for workers in by_module.values() for w in workers} == {"gw0", "gw1"}, "both workers had work"
    first_on_engine_worker = next(run["test"] for run in runs if run["worker"] in engine_workers)
    assert "engine" in first_on_engine_worker, "the engine's group goes first"


def test_the_fast_tier_leaves_out_what_needs_a_server_or_the_engine(small_suite):
    runs = run_suite(small_suite, *pytest_args(["--fast"], environ={"MVS_TEST_WORKERS": "2"}))

    ran = {run["test"].split("::")[0] for run in runs}
    assert ran == {f"tests/test_{name}.py" for name in ("alpha", "beta", "gamma", "delta", "stand_in")}


def test_the_suite_still_runs_in_one_process_without_xdist():
    """`-p no:xdist` (pytest alone, or a debugger) with the project's strict markers: the groups'
    mark must be known without the plugin that defines it."""
    command = [sys.executable, "-m", "pytest", "-p", "no:xdist", "-p", "no:cacheprovider", "-q", "--collect-only"]
    done = subprocess.run([*command, "tests/ops/test_suite_split.py"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "tests collected" in done.stdout
