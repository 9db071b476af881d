"""``molotov.util``: scenario files written for Molotov 2.x that import from it run unchanged.

The scenario below is written the way Kinto's and Tecken's load tests are: run-wide values
through ``molotov.util.set_var``/``get_var`` set in ``global_setup``, synchronous requests for
the set-up, and (as 2.x's own runner did with ``-x``) ``molotov.util.stop()`` to end the run
from inside a scenario.
"""

from __future__ import annotations

import json
import subprocess
import sys

from support import closing, read_log

UTIL_SCENARIO = """
    import json
    import os
    import pathlib

    from molotov import global_setup, scenario
    from molotov.util import (
        get_var,
        is_stopped,
        json_request,
        printable_error,
        request,
        set_var,
        stop,
        stop_reason,
    )

    LOG = pathlib.Path(__file__).with_name("log.jsonl")
    STEPS = []


    def log(**record):
        with LOG.open("a") as f:
            f.write(json.dumps({"pid": os.getpid(), **record}) + "\\n")


    @global_setup()
    def init(args):
        url = os.environ["TARGET_URL"]
        set_var("url", url)
        set_var("items", json_request(url + "/data")["content"]["items"])
        log(what="setup", status=request(url + "/")["status"], stopped=is_stopped())


    @scenario()
    async def step(session):
        async with session.get(get_var("url") + "/") as resp:
            assert resp.status == 200
        STEPS.append(1)
        if len(STEPS) == 3:
            try:
                raise ValueError("seen three")
            except ValueError as exc:
                printed = printable_error(exc)
            before = is_stopped()
            stop("enough")
            log(
                what="stop",
                items=get_var("items"),
                before=before,
                after=is_stopped(),
                reasons=stop_reason(),
                printed=printed,
            )
"""


def test_util_names_of_molotov_2(run_molotov, write_scenario, target, tmp_path):
    write_scenario(UTIL_SCENARIO)
    # Without stop(), this run would last 60 s: stop() in one process ends both.
    result = run_molotov("-p", "2", "-w", "1", "-d", "60", "-c", "--report", "report.json")
    assert result.returncode == 0, result.stderr
    records = read_log(tmp_path)
    (setup,) = [r for r in records if r["what"] == "setup"]
    assert setup["status"] == 200
    assert setup["stopped"] is False
    stops = [r for r in records if r["what"] == "stop"]
    assert stops, records
    for record in stops:
        assert record["items"] == [1, 2, 3]  # set in global_setup, seen in the workers
        assert (record["before"], record["after"]) == (False, True)
        assert record["reasons"] == ["enough"]
        assert record["printed"][0] == "ValueError('seen three')"
        assert any("loadtest.py" in line for line in record["printed"][1:])
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["stop_reason"] == "stop_called"
    successes, failures = closing(result.stdout)
    assert failures == 0
    # Each process stops by its third step at the latest (in-flight steps finish).
    assert 3 <= successes <= 6
    # The two requests of global_setup, and one per step.
    assert target.total == 2 + successes


def test_molotov_util_is_not_imported_by_molotov():
    """``import molotov`` stays light: aiohttp comes with ``molotov.util``, not before."""
    code = (
        "import sys, molotov; assert 'aiohttp' not in sys.modules; "
        "import molotov.util; assert 'aiohttp' in sys.modules; "
        "assert molotov.util.set_var is molotov.set_var; "
        "assert molotov.util.request is molotov.request"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
