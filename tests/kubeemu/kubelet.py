"""The emulator's scheduler and kubelet: a pod is scheduled if the node's allocatable CPU has
room (else Pending, Unschedulable), then its container starts once its image "pulls" and its
Secret and ConfigMap exist: the REAL command of the pod (``molotov`` is ``sys.executable -m
molotov``), with the pod's environment, the Secret's values, the ConfigMap's files written
under the pod's own directory (its paths rewritten in the command), on a loopback address of
its own (``0.0.0.0`` in the command becomes it). It probes readiness over HTTP, reports the
container's states as a kubelet does (waiting reasons, terminated with exit code, reason and,
under FallbackToLogsOnError, the log's tail as message), OOM-kills on a knob, and deletes a pod
with SIGTERM, then SIGKILL after its grace period."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import signal
import sys
import time
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import aiohttp

from kubeemu.store import now_iso

if TYPE_CHECKING:
    from kubeemu.cluster import Emulator

PROBE_EVERY = 0.3


def cpu_millis(text: str) -> int:
    return int(text[:-1]) if text.endswith("m") else int(float(text) * 1000)


def _container(pod: dict[str, Any]) -> dict[str, Any]:
    container: dict[str, Any] = pod["spec"]["containers"][0]
    return container


def _set_state(pod: dict[str, Any], state: dict[str, Any], ready: bool = False) -> None:
    container = _container(pod)
    pod["status"]["containerStatuses"] = [
        {
            "name": container["name"],
            "image": container["image"],
            "ready": ready,
            "restartCount": 0,
            "state": state,
        }
    ]


def _condition(pod: dict[str, Any], kind: str, ok: bool, reason: str = "", message: str = ""):
    conditions = [c for c in pod["status"].get("conditions", []) if c["type"] != kind]
    item = {"type": kind, "status": "True" if ok else "False", "lastTransitionTime": now_iso()}
    if reason:
        item.update(reason=reason, message=message)
    pod["status"]["conditions"] = [*conditions, item]


def _schedule(emu: Emulator, pod: dict[str, Any]) -> bool:
    wanted = cpu_millis(_container(pod)["resources"]["requests"].get("cpu", "0"))
    used = sum(
        cpu_millis(_container(p)["resources"]["requests"].get("cpu", "0"))
        for p in emu.store.all("pods")
        if p.get("_node") and p["status"].get("phase") not in ("Succeeded", "Failed")
    )
    if used + wanted > emu.allocatable_cpu:
        message = "0/1 nodes are available: 1 Insufficient cpu."
        if not pod.get("_unschedulable"):
            pod["_unschedulable"] = True
            _condition(pod, "PodScheduled", False, "Unschedulable", message)
            emu.store.event(
                pod["metadata"]["namespace"],
                "Pod",
                pod["metadata"]["name"],
                "FailedScheduling",
                message,
            )
        return False
    pod["_node"] = "emulated-node"
    pod["spec"]["nodeName"] = "emulated-node"
    pod["status"]["podIP"] = emu.next_ip()
    _condition(pod, "PodScheduled", True)
    return True


def _missing(emu: Emulator, pod: dict[str, Any]) -> tuple[str, str] | None:
    """Why the container can't be created yet: (waiting reason, message), or None."""
    namespace, container = pod["metadata"]["namespace"], _container(pod)
    if container["image"] in emu.bad_images:
        reason = "ErrImagePull" if not pod.get("_pulled_once") else "ImagePullBackOff"
        pod["_pulled_once"] = True
        return reason, f'Back-off pulling image "{container["image"]}"'
    for item in container.get("env", []):
        ref = (item.get("valueFrom") or {}).get("secretKeyRef")
        if ref and emu.store.get("secrets", namespace, ref["name"]) is None:
            return "CreateContainerConfigError", f'secret "{ref["name"]}" not found'
    for volume in pod["spec"].get("volumes", []):
        ref = volume.get("configMap")
        if ref and emu.store.get("configmaps", namespace, ref["name"]) is None:
            return "ContainerCreating", ""
    return None


def _write_volumes(emu: Emulator, pod: dict[str, Any], root: Path) -> dict[str, str]:
    """Each mount's directory under ``root``: {mountPath: local path}."""
    namespace = pod["metadata"]["namespace"]
    volumes = {v["name"]: v for v in pod["spec"].get("volumes", [])}
    paths: dict[str, str] = {}
    for mount in _container(pod).get("volumeMounts", []):
        local = root / mount["name"]
        local.mkdir(parents=True, exist_ok=True)
        ref = volumes[mount["name"]].get("configMap")
        if ref:
            config = emu.store.get("configmaps", namespace, ref["name"]) or {}
            data = {k: v.encode() for k, v in (config.get("data") or {}).items()}
            data |= {k: base64.b64decode(v) for k, v in (config.get("binaryData") or {}).items()}
            items = ref.get("items") or [{"key": k, "path": k} for k in data]
            for item in items:
                target = local / PurePosixPath(item["path"])
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data[item["key"]])
        paths[mount["mountPath"]] = str(local)
    return paths


def _rewrite(value: str, paths: dict[str, str], ip: str) -> str:
    for mount, local in sorted(paths.items(), key=lambda item: -len(item[0])):
        if value == mount or value.startswith(mount + "/"):
            return local + value[len(mount) :]
    return value.replace("0.0.0.0:", f"{ip}:")


def _environment(emu: Emulator, pod: dict[str, Any], paths: dict[str, str]) -> dict[str, str]:
    namespace = pod["metadata"]["namespace"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOLOTOV_")}
    for item in _container(pod).get("env", []):
        if "value" in item:
            env[item["name"]] = _rewrite(item["value"], paths, pod["status"]["podIP"])
        else:
            ref = item["valueFrom"]["secretKeyRef"]
            secret = emu.store.get("secrets", namespace, ref["name"]) or {}
            env[item["name"]] = base64.b64decode(secret["data"][ref["key"]]).decode()
    return env


def _argv(command: list[str], paths: dict[str, str], ip: str) -> list[str]:
    program = {
        "molotov": [sys.executable, "-m", "molotov"],
        "moloslave": [sys.executable, "-c", "from moloslave.cli import main; main()"],
    }
    return [*program.get(command[0], [command[0]]), *(_rewrite(a, paths, ip) for a in command[1:])]


async def _start(emu: Emulator, pod: dict[str, Any]) -> None:
    root = emu.workdir / pod["metadata"]["name"]
    paths = _write_volumes(emu, pod, root)
    ip = pod["status"]["podIP"]
    log = open(root / "log", "wb")  # noqa: SIM115 (the process writes it, closed at its end)
    pod["_log"] = root / "log"
    pod["_proc"] = await asyncio.create_subprocess_exec(
        *_argv(_container(pod)["command"], paths, ip),
        env=_environment(emu, pod, paths),
        cwd=root,
        stdout=log,
        stderr=log,
        stdin=asyncio.subprocess.DEVNULL,
        start_new_session=True,
    )
    log.close()
    pod["_running_since"] = time.monotonic()
    pod["status"]["phase"] = "Running"
    pod["status"]["startTime"] = now_iso()
    _set_state(pod, {"running": {"startedAt": now_iso()}})
    _condition(pod, "Ready", False, "ContainersNotReady", "containers with unready status")
    pod["_probe"] = asyncio.ensure_future(_probe(emu, pod))


async def _probe(emu: Emulator, pod: dict[str, Any]) -> None:
    probe = _container(pod)["readinessProbe"]["httpGet"]
    url = f"http://{pod['status']['podIP']}:{probe['port']}{probe['path']}"
    async with aiohttp.ClientSession() as session:
        while pod["status"].get("phase") == "Running":
            try:
                async with session.get(url, timeout=aiohttp.ClientTimeout(total=1)) as answer:
                    ok = answer.status == 200
            except (TimeoutError, aiohttp.ClientError, OSError):
                ok = False
            if ok != pod.get("_ready", False) and pod["status"].get("phase") == "Running":
                pod["_ready"] = ok
                _set_state(pod, pod["status"]["containerStatuses"][0]["state"], ok)
                _condition(pod, "Ready", ok)
                emu.store.touch(pod)
            await asyncio.sleep(PROBE_EVERY)


def _ended(pod: dict[str, Any], code: int) -> None:
    oom = pod.get("_oom", False)
    reason = "OOMKilled" if oom else ("Completed" if code == 0 else "Error")
    state: dict[str, Any] = {"exitCode": code, "reason": reason, "finishedAt": now_iso()}
    if code != 0 and pod.get("_log"):
        state["message"] = pod["_log"].read_bytes()[-2048:].decode(errors="replace")
    pod["status"]["phase"] = "Succeeded" if code == 0 else "Failed"
    pod["status"]["_exit"] = code
    pod["_ready"] = False
    _set_state(pod, {"terminated": state})
    _condition(pod, "Ready", False, "PodCompleted" if code == 0 else "PodFailed")


def reap(emu: Emulator, pod: dict[str, Any]) -> None:
    """Report a container that ended (run before the Job controller, in the same step)."""
    proc = pod.get("_proc")
    if proc is not None and proc.returncode is not None and "_exit" not in pod["status"]:
        code = proc.returncode if proc.returncode >= 0 else 128 - proc.returncode
        _ended(pod, code)
        # A container's /dev/shm goes with it; here it is the host's: remove what the
        # pod's molotov (its stats bus, named after its pid) could not, being killed.
        for segment in Path("/dev/shm").glob(f"molotov-{proc.pid}-*"):
            segment.unlink(missing_ok=True)
        emu.store.touch(pod)


async def sync_pod(emu: Emulator, pod: dict[str, Any]) -> None:
    proc = pod.get("_proc")
    if pod.get("_deleting"):
        _terminate(emu, pod)
        return
    phase = pod["status"].get("phase")
    if phase in ("Succeeded", "Failed"):
        return
    if not pod.get("_node") and not _schedule(emu, pod):
        return
    if proc is None:
        missing = _missing(emu, pod)
        if missing is not None:
            _set_state(pod, {"waiting": {"reason": missing[0], "message": missing[1]}})
            return
        await _start(emu, pod)
        emu.store.touch(pod)
        return
    oom_after = emu.oom.get(pod["_index"])
    if oom_after is not None and time.monotonic() - pod["_running_since"] > oom_after:
        emu.oom.pop(pod["_index"])
        pod["_oom"] = True
        os.killpg(proc.pid, signal.SIGKILL)


def _terminate(emu: Emulator, pod: dict[str, Any]) -> None:
    proc = pod.get("_proc")
    namespace, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
    if proc is None or proc.returncode is not None:
        emu.store.remove("pods", namespace, name)
        return
    since = pod.setdefault("_term_at", time.monotonic())
    grace = pod["spec"].get("terminationGracePeriodSeconds", 30)
    with contextlib.suppress(ProcessLookupError):
        if not pod.get("_termed"):
            pod["_termed"] = True
            os.killpg(proc.pid, signal.SIGTERM)
        elif time.monotonic() - since > grace:
            os.killpg(proc.pid, signal.SIGKILL)


def kill_all(emu: Emulator) -> None:
    """At the emulator's end: no process of a pod survives it."""
    for pod in emu.store.all("pods"):
        proc = pod.get("_proc")
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
