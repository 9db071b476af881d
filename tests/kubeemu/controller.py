"""The emulator's controller manager: the Job controller (indexed pods, per-index backoff or
backoffLimit, podFailurePolicy, activeDeadlineSeconds, completion), ttlSecondsAfterFinished,
deletion with foreground or background propagation, and the garbage collector of objects whose
owners (ownerReferences) are gone. One :func:`tick` does a round of all of them."""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING, Any

from kubeemu.store import now_iso

if TYPE_CHECKING:
    from kubeemu.cluster import Emulator

INDEX_KEY = "batch.kubernetes.io/job-completion-index"


def owned_by(body: dict[str, Any], uid: str) -> bool:
    return any(ref.get("uid") == uid for ref in body["metadata"].get("ownerReferences") or [])


def _finished(job: dict[str, Any]) -> bool:
    return any(
        c["type"] in ("Complete", "Failed") and c["status"] == "True"
        for c in job["status"].get("conditions") or []
    )


def _condition(kind: str, reason: str, message: str) -> dict[str, Any]:
    return {
        "type": kind,
        "status": "True",
        "reason": reason,
        "message": message,
        "lastTransitionTime": now_iso(),
    }


def finish(emu: Emulator, job: dict[str, Any], kind: str, reason: str, message: str) -> None:
    """The Job ends (Complete or Failed): its active pods are deleted, its TTL starts."""
    job["status"].setdefault("conditions", []).append(_condition(kind, reason, message))
    job["status"]["completionTime"] = now_iso()
    job["_finished"] = time.monotonic()
    emu.history.append((job["metadata"]["name"], kind, reason))
    emu.store.touch(job)
    for pod in emu.pods_of(job):
        if pod["status"].get("phase") not in ("Succeeded", "Failed"):
            emu.delete_pod(pod)


def _new_pod(emu: Emulator, job: dict[str, Any], index: int) -> dict[str, Any]:
    template = job["spec"]["template"]
    name = f"{job['metadata']['name']}-{index}-{secrets.token_hex(3)[:5]}"
    labels = dict(template["metadata"].get("labels") or {})
    labels.update(
        {
            "job-name": job["metadata"]["name"],
            INDEX_KEY: str(index),
            "controller-uid": job["metadata"]["uid"],
        }
    )
    owner = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "name": job["metadata"]["name"],
        "uid": job["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
    spec = {**template["spec"]}
    spec["containers"] = [
        {**c, "env": [*c.get("env", []), {"name": "JOB_COMPLETION_INDEX", "value": str(index)}]}
        for c in spec["containers"]
    ]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "labels": labels,
            "annotations": {INDEX_KEY: str(index)},
            "ownerReferences": [owner],
        },
        "spec": spec,
        "status": {"phase": "Pending", "conditions": []},
        "_index": index,
    }


def _policy_match(job: dict[str, Any], pod: dict[str, Any]) -> bool:
    code = pod["status"].get("_exit")
    for rule in (job["spec"].get("podFailurePolicy") or {}).get("rules", []):
        codes = rule.get("onExitCodes") or {}
        if (
            rule["action"] == "FailJob"
            and codes.get("operator") == "In"
            and code in codes.get("values", [])
        ):
            return True
    return False


def sync_job(emu: Emulator, job: dict[str, Any]) -> None:
    spec, status = job["spec"], job["status"]
    if _finished(job) or job.get("_deleting"):
        return
    status.setdefault("startTime", now_iso())
    started = job.setdefault("_started", time.monotonic())
    deadline = spec.get("activeDeadlineSeconds")
    if deadline is not None and (time.monotonic() - started) * emu.clock_scale > deadline:
        finish(
            emu, job, "Failed", "DeadlineExceeded", "Job was active longer than specified deadline"
        )
        return
    per_index = "backoffLimitPerIndex" in spec
    succeeded: set[int] = set(job.setdefault("_succeeded", set()))
    failed: set[int] = job.setdefault("_failed", set())
    active: set[int] = set()
    for pod in emu.pods_of(job):
        index, phase = pod["_index"], pod["status"].get("phase")
        if phase == "Succeeded":
            job["_succeeded"].add(index)
        elif phase == "Failed" and not pod.get("_counted"):
            pod["_counted"] = True
            if _policy_match(job, pod):
                message = (
                    f"Container agent for pod {pod['metadata']['namespace']}/"
                    f"{pod['metadata']['name']} failed with exit code "
                    f"{pod['status']['_exit']} matching FailJob rule at index 0"
                )
                finish(emu, job, "Failed", "PodFailurePolicy", message)
                return
            failed.add(index)
            if not per_index and len(failed) > spec.get("backoffLimit", 6):
                finish(
                    emu,
                    job,
                    "Failed",
                    "BackoffLimitExceeded",
                    "Job has reached the specified backoff limit",
                )
                return
        elif phase != "Failed" and not pod.get("_deleting"):
            active.add(index)
    succeeded = job["_succeeded"]
    status.update(active=len(active), succeeded=len(succeeded), failed=len(failed))
    if per_index and failed:
        status["failedIndexes"] = ",".join(str(i) for i in sorted(failed))
        if len(failed) > spec.get("maxFailedIndexes", len(failed)):
            finish(emu, job, "Failed", "MaxFailedIndexesExceeded", "too many failed indexes")
            return
    for index in range(spec["completions"]):
        if index in succeeded or index in failed or index in active:
            continue
        if emu.pod_quota is not None and len(emu.store.all("pods")) >= emu.pod_quota:
            emu.job_event(
                job,
                "FailedCreate",
                f'Error creating: pods "{job["metadata"]["name"]}-{index}" is '
                f"forbidden: exceeded quota: pods, requested: pods=1, used: "
                f"pods={emu.pod_quota}, limited: pods={emu.pod_quota}",
            )
            continue
        emu.store.add("pods", job["metadata"]["namespace"], _new_pod(emu, job, index))
    if len(succeeded | failed) == spec["completions"]:
        if failed:
            finish(emu, job, "Failed", "FailedIndexes", "Job has failed indexes")
        else:
            finish(emu, job, "Complete", "CompletionsReached", "Reached expected number")


def collect(emu: Emulator) -> None:
    """TTL after finish, foreground deletions, and the garbage collector."""
    for job in emu.store.all("jobs"):
        ttl = job["spec"].get("ttlSecondsAfterFinished")
        ended = job.get("_finished")
        if (
            ttl is not None
            and ended is not None
            and (time.monotonic() - ended) * emu.clock_scale >= ttl
        ):
            emu.delete("jobs", job, "Background")
    live = emu.store.uids()
    for kind in ("pods", "configmaps", "secrets"):
        for body in emu.store.all(kind):
            owners = body["metadata"].get("ownerReferences") or []
            gone = owners and all(ref["uid"] not in live for ref in owners)
            foreground = [
                job
                for job in emu.store.all("jobs")
                if job.get("_deleting") == "Foreground" and owned_by(body, job["metadata"]["uid"])
            ]
            if gone or foreground:
                emu.delete(kind, body, "Background")
    for job in emu.store.all("jobs"):
        if job.get("_deleting") == "Foreground":
            uid = job["metadata"]["uid"]
            if not any(owned_by(b, uid) for b in emu.store.objects.values()):
                emu.store.remove("jobs", job["metadata"]["namespace"], job["metadata"]["name"])
