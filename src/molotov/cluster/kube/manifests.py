"""The objects of one ``--pods`` run, as plain dictionaries: a pure function of its parameters.

An Indexed Job ``molotov-<run id>`` runs the agent in N pods at once, once each (a pod that
dies is never replaced: a replacement would count its share twice). The ConfigMap (the shipped
scenario) and the Secret (the run's token) name the Job as their owner, so deleting the Job,
or its TTL, removes them too; they need the Job's uid, so the Job is created first and its pods
wait for their volume and variable meanwhile. Every object carries :func:`labels`, which
find all of a run's objects again. Pods meet the Pod Security "restricted" profile.

``blockOwnerDeletion`` stays unset on purpose: setting it needs ``update`` on
``jobs/finalizers`` where the OwnerReferencesPermissionEnforcement admission plugin runs, a
permission the Role would otherwise have to grant; the teardown verifies the deletion itself.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field
from typing import Any

from molotov.cluster.exitcodes import AGENT_EXIT_SETUP
from molotov.cluster.kube.options import DEFAULT_CPU, DEFAULT_MEMORY
from molotov.cluster.kube.shipping import Shipment
from molotov.cluster.protocol import DEFAULT_PORT, READY, TOKEN_ENV

NAME_LABEL = "app.kubernetes.io/name"
RUN_LABEL = "molotov.run-id"
CONTAINER = "agent"
MOUNT = "/molotov/scenario"
HOME = "/home/molotov"
TOKEN_KEY = "token"
USER_ID = 10001  # the image's user (Dockerfile)


def new_run_id() -> str:
    """A fresh run id: short, lowercase hex, valid in object names and label values."""
    return secrets.token_hex(4)


def job_name(run_id: str) -> str:
    return f"molotov-{run_id}"


def labels(run_id: str) -> dict[str, str]:
    """The labels every object and pod of the run carries."""
    return {NAME_LABEL: "molotov", RUN_LABEL: run_id}


def selector(run_id: str) -> str:
    """The label selector that lists every object of the run."""
    return ",".join(f"{key}={value}" for key, value in labels(run_id).items())


@dataclass(frozen=True)
class RepoSource:
    """``--repo URL --ref REF``: the pods clone ``commit`` and run ``scenario`` from it."""

    url: str
    commit: str
    scenario: str  # relative to the repository


@dataclass(frozen=True)
class PodRun:
    """What the manifests depend on; ``shipment`` xor ``repo`` says what the pods run."""

    run_id: str
    pods: int
    image: str
    namespace: str
    token: str
    deadline: int  # activeDeadlineSeconds: the whole Job ends then, whatever happens
    ttl: int = 300  # ttlSecondsAfterFinished: then the Job and what it owns are deleted
    cpu: str = DEFAULT_CPU  # per pod, requested
    memory: str = DEFAULT_MEMORY  # per pod, requested and the limit
    shipment: Shipment | None = None
    repo: RepoSource | None = None
    per_index_backoff: bool = True  # the server knows backoffLimitPerIndex (1.29+)
    agent_args: tuple[str, ...] = ()
    pull_policy: str = "IfNotPresent"
    grace: int = 30  # terminationGracePeriodSeconds: the agent's graceful stop
    port: int = DEFAULT_PORT
    extra_labels: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return job_name(self.run_id)


def _metadata(run: PodRun, name: str) -> dict[str, Any]:
    return {"name": name, "namespace": run.namespace, "labels": labels(run.run_id)}


def command(run: PodRun) -> list[str]:
    """The container's command: the agent on the shipped file, or moloslave's agent mode."""
    listen = ["--listen", f"0.0.0.0:{run.port}"]
    if run.repo is not None:
        repo = run.repo
        return ["moloslave", "--agent", *listen, "--ref", repo.commit, repo.url, repo.scenario]
    if run.shipment is None:
        raise ValueError("a pod run ships a scenario or names a repository")
    scenario = f"{MOUNT}/{run.shipment.scenario}"
    return ["molotov", "--agent", *listen, *run.agent_args, scenario]


def _container(run: PodRun) -> dict[str, Any]:
    mounts: list[dict[str, Any]] = [
        {"name": "tmp", "mountPath": "/tmp"},
        {"name": "home", "mountPath": HOME},
    ]
    if run.shipment is not None:
        mounts.append({"name": "scenario", "mountPath": MOUNT, "readOnly": True})
    token = {"secretKeyRef": {"name": run.name, "key": TOKEN_KEY}}
    return {
        "name": CONTAINER,
        "image": run.image,
        "imagePullPolicy": run.pull_policy,
        "command": command(run),
        # A failed agent's last lines become its status' message: the coordinator shows them
        # without needing pods/log.
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "env": [
            {"name": TOKEN_ENV, "valueFrom": token},
            {"name": "HOME", "value": HOME},
            {"name": "TMPDIR", "value": "/tmp"},
            {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"},  # the scenario is read-only
        ],
        "ports": [{"name": "agent", "containerPort": run.port, "protocol": "TCP"}],
        "readinessProbe": {
            "httpGet": {"path": READY, "port": run.port},
            "periodSeconds": 2,
            "failureThreshold": 1,
        },
        # No CPU limit: throttling would show up as the target's latency.
        "resources": {
            "requests": {"cpu": run.cpu, "memory": run.memory},
            "limits": {"memory": run.memory},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": mounts,
    }


def _volumes(run: PodRun) -> list[dict[str, Any]]:
    volumes: list[dict[str, Any]] = [
        {"name": "tmp", "emptyDir": {"sizeLimit": "2Gi"}},
        {"name": "home", "emptyDir": {"sizeLimit": "512Mi"}},
    ]
    if run.shipment is not None:
        items = [dict(item) for item in run.shipment.items]
        config = {"name": run.name, "items": items, "defaultMode": 0o444}
        volumes.append({"name": "scenario", "configMap": config})
    return volumes


def _limits(run: PodRun) -> dict[str, Any]:
    """No pod is retried: per index where the server can (the others go on), else the Job."""
    if run.per_index_backoff:
        return {"backoffLimitPerIndex": 0, "maxFailedIndexes": run.pods}
    return {"backoffLimit": 0}


def job(run: PodRun) -> dict[str, Any]:
    """The Indexed Job: N agents, each once, bounded in time, gone ``ttl`` seconds after."""
    setup_failed = {"containerName": CONTAINER, "operator": "In", "values": [AGENT_EXIT_SETUP]}
    pod_labels = {**labels(run.run_id), **run.extra_labels}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": _metadata(run, run.name),
        "spec": {
            "completionMode": "Indexed",
            "completions": run.pods,
            "parallelism": run.pods,
            **_limits(run),
            # A scenario error is the same in every pod: fail the Job at once, no coordinator
            # needed.
            "podFailurePolicy": {"rules": [{"action": "FailJob", "onExitCodes": setup_failed}]},
            "activeDeadlineSeconds": run.deadline,
            "ttlSecondsAfterFinished": run.ttl,
            "template": {
                "metadata": {"labels": pod_labels},
                "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "terminationGracePeriodSeconds": run.grace,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": USER_ID,
                        "runAsGroup": USER_ID,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [_container(run)],
                    "volumes": _volumes(run),
                },
            },
        },
    }


def _owned(run: PodRun, name: str, job_uid: str) -> dict[str, Any]:
    metadata = _metadata(run, name)
    owner = {"apiVersion": "batch/v1", "kind": "Job", "name": run.name, "uid": job_uid}
    metadata["ownerReferences"] = [owner]
    return metadata


def config_map(run: PodRun, job_uid: str) -> dict[str, Any] | None:
    """The shipped scenario, owned by the Job (None in ``--repo`` mode)."""
    if run.shipment is None:
        return None
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _owned(run, run.name, job_uid),
        "immutable": True,
    }
    if run.shipment.data:
        body["data"] = dict(run.shipment.data)
    if run.shipment.binary_data:
        body["binaryData"] = dict(run.shipment.binary_data)
    return body


def secret(run: PodRun, job_uid: str) -> dict[str, Any]:
    """The run's token, owned by the Job."""
    value = base64.b64encode(run.token.encode("utf-8")).decode("ascii")
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _owned(run, run.name, job_uid),
        "type": "Opaque",
        "immutable": True,
        "data": {TOKEN_KEY: value},
    }


def owned(run: PodRun, job_uid: str) -> list[dict[str, Any]]:
    """The objects created after the Job: the Secret, then the ConfigMap if any."""
    objects = [secret(run, job_uid)]
    shipped = config_map(run, job_uid)
    if shipped is not None:
        objects.append(shipped)
    return objects
