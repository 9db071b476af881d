"""moloslave's agent mode, the pods' command of ``molotov --pods N --repo URL --ref REF``.

``moloslave --agent --listen HOST:PORT --ref COMMIT REPO SCENARIO``: clone the commit the
coordinator pinned, install the requirements the repository's ``molotov.json`` names (its
``requirements`` key, if the file is there), then run ``molotov --agent --listen HOST:PORT
SCENARIO`` in the clone, which reports ready only then. A clone or install failure is the
agent's setup exit code, so the Job fails at once, as for a scenario error.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from moloslave import config as slave_config
from moloslave import env as slave_env
from moloslave import fetch
from moloslave.install import SlaveError, install
from moloslave.process import Interrupted, Signals
from molotov.cluster.exitcodes import AGENT_EXIT_SETUP
from molotov.config.errors import ConfigError
from molotov.config.jsonconfig import read_config_file


def requirements_of(repo: Path) -> str | None:
    """The requirements file the repository's molotov.json names, or None."""
    if not (repo / slave_config.DEFAULT_CONFIG).is_file():
        return None
    section = read_config_file(repo / slave_config.DEFAULT_CONFIG)
    return slave_config.requirements(repo, slave_config.DEFAULT_CONFIG, section)


def run_agent(url: str, ref: str | None, scenario: str, listen: str, timeout: float) -> int:
    """Clone, install, serve; the agent's exit code (6 when the setup failed)."""
    work = Path(tempfile.mkdtemp(prefix="moloslave-"))
    with Signals() as signals:
        try:
            checked = fetch.check_repo(url)
            if ref is not None:
                fetch.check_ref(ref)
            print(f"Cloning {url}" + (f" at {ref}" if ref else ""), flush=True)
            fetch.clone(checked, work, ref, timeout)
            slave_config.inside(work, scenario, "The scenario")
            python = install(signals, work, requirements_of(work))
            env = slave_env.run_env(os.environ, {}, python)
            command = [str(python), "-m", "molotov", "--agent", "--listen", listen, scenario]
            return signals.run(command, cwd=work, env=env)
        except (fetch.FetchError, ConfigError, SlaveError) as exc:
            sys.stderr.write(f"{exc}\n")
            return AGENT_EXIT_SETUP
        except Interrupted as exc:
            return exc.exit_code
        finally:
            signals.ignore()
            shutil.rmtree(work, ignore_errors=True)
