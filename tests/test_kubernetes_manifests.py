"""deploy/kubernetes/: valid against the Kubernetes schemas (offline), and an Indexed Job that
runs N pods at once, once each, for a bounded time, from the moloslave image."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest
import yaml

DEPLOY = Path(__file__).resolve().parent.parent / "deploy" / "kubernetes"
MANIFESTS = sorted(DEPLOY.glob("*.yaml"))


def documents(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def resources(kind: str) -> list[dict]:
    return [doc for path in MANIFESTS for doc in documents(path) if doc["kind"] == kind]


def test_there_are_manifests():
    assert "job.yaml" in [path.name for path in MANIFESTS]


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda path: path.name)
def test_manifests_are_valid_kubernetes_resources(path):
    version = kubernetes_validate.latest_version()
    docs = documents(path)
    assert docs
    for doc in docs:
        # strict: an unknown or misspelled field is an error too
        kubernetes_validate.validate(doc, version, strict=True)


def test_the_validator_rejects_a_broken_job():
    """The check above can fail: a Job with a misspelled field and a wrong type does not pass."""
    (job,) = resources("Job")
    version = kubernetes_validate.latest_version()
    misspelled = {**job, "spec": {**job["spec"], "paralelism": 3}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(misspelled, version, strict=True)
    wrong_type = {**job, "spec": {**job["spec"], "completions": "three"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(wrong_type, version, strict=True)


def test_indexed_job_runs_n_pods_once_for_a_bounded_time():
    (job,) = resources("Job")
    spec = job["spec"]
    assert job["apiVersion"] == "batch/v1"
    assert spec["completionMode"] == "Indexed"
    assert spec["completions"] == spec["parallelism"] >= 2
    assert spec["backoffLimit"] == 0
    assert spec["activeDeadlineSeconds"] > 0
    assert spec["ttlSecondsAfterFinished"] >= 0
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    assert "moloslave" in container["image"]
    for kind in ("requests", "limits"):
        assert set(container["resources"][kind]) == {"cpu", "memory"}


def test_environment_names_the_repository_the_test_and_a_shared_start_time():
    (job,) = resources("Job")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    env = {item["name"]: item for item in container["env"]}
    assert {"TEST_REPO", "TEST_NAME", "MOLOTOV_START_AT", "MOLOTOV_STATSD_ADDRESS"} <= set(env)
    assert env["TEST_REPO"]["value"] and env["TEST_NAME"]["value"]
    assert env["MOLOTOV_STATSD_ADDRESS"]["value"].startswith(("udp://", "tcp://"))
    # The start time comes from the ConfigMap of the same file, which has that key.
    ref = env["MOLOTOV_START_AT"]["valueFrom"]["configMapKeyRef"]
    configs = {doc["metadata"]["name"]: doc for doc in resources("ConfigMap")}
    assert ref["key"] in configs[ref["name"]]["data"]


def test_every_mounted_volume_is_declared():
    (job,) = resources("Job")
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    declared = {volume["name"] for volume in pod["volumes"]}
    mounted = {mount["name"] for mount in container["volumeMounts"]}
    assert mounted == declared
    assert "/tmp" in {mount["mountPath"] for mount in container["volumeMounts"]}
