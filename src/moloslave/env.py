"""The test's Python: a virtual environment in the clone that sees the running molotov.

The new environment gets a ``.pth`` file that adds the running interpreter's
``site-packages`` (with their own ``.pth`` files, so an editable molotov works too) after its
own, so the requirements it installs come first and molotov and its dependencies are not
installed twice. pip runs with the caller's environment (``PIP_INDEX_URL``,
``PIP_FIND_LINKS``, ``PIP_NO_INDEX``, ...) and never upgrades itself.
"""

from __future__ import annotations

import os
import site
import subprocess
import sys
import sysconfig
import venv
from collections.abc import Mapping
from pathlib import Path

PTH_NAME = "moloslave-parent.pth"
# The environment's folder in the clone: hidden, and a name no repository has a reason to use.
VENV_NAME = ".moloslave-venv"


def running_site_dirs() -> list[str]:
    """The running interpreter's site-packages directories (sysconfig's, then site's)."""
    paths = sysconfig.get_paths()
    found: list[str] = []
    for path in [paths["purelib"], paths["platlib"], *site.getsitepackages()]:
        if path not in found and Path(path).is_dir():
            found.append(path)
    return found


def create(directory: Path) -> Path:
    """Create the environment in ``directory``; its interpreter."""
    venv.EnvBuilder(with_pip=True, symlinks=os.name != "nt").create(directory)
    python = directory / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    asked = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    )
    lines = [f"import site; site.addsitedir({path!r})" for path in running_site_dirs()]
    pth = Path(asked.stdout.strip()) / PTH_NAME
    pth.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return python


def pip_install_args(python: Path, requirements: Path) -> list[str]:
    """pip's command line: an argument list, the version check off (no self-upgrade)."""
    return [
        str(python),
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--no-input",
        "-r",
        str(requirements),
    ]


def run_env(base: Mapping[str, str], extra: Mapping[str, str], python: Path) -> dict[str, str]:
    """The test process's environment: ``base`` with ``extra`` over it, ``python``'s bin first."""
    env = dict(base)
    env.update(extra)
    if python != Path(sys.executable):
        bin_dir = str(python.parent)
        env["PATH"] = os.pathsep.join(p for p in (bin_dir, env.get("PATH", "")) if p)
        env["VIRTUAL_ENV"] = str(python.parent.parent)
    return env
