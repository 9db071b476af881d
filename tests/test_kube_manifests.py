"""The ``--pods`` run's objects: valid for the oldest and newest Kubernetes supported, owned
by the Job, found by the run's labels, restricted pods; the shipped scenario rebuilt as it was."""

from __future__ import annotations

import base64
import sys
from pathlib import Path, PurePosixPath

import kubernetes_validate
import pytest
import yaml

from molotov.cluster.kube import manifests, rbac, shipping
from molotov.cluster.kube.manifests import PodRun, RepoSource
from support import molotov_env, run_command

# backoffLimitPerIndex is on by default from 1.29, and the schemas before 1.29 wrongly
# require onPodConditions beside onExitCodes in a podFailurePolicy rule.
OLDEST, NEWEST = "1.29", kubernetes_validate.latest_version()
UID = "0b9f8f62-7d8e-4c55-9a52-1c5e0c1f0e11"


def make_run(tmp_path: Path, **changes) -> PodRun:
    scenario = tmp_path / "loadtest.py"
    if not scenario.exists():
        scenario.write_text("from molotov import scenario\n")
    values = {
        "run_id": "0a1b2c3d",
        "pods": 3,
        "image": "registry.example.com/molotov:3",
        "namespace": "load",
        "token": "s3cret",
        "deadline": 900,
        "shipment": shipping.ship(scenario),
    }
    values.update(changes)
    return PodRun(**values)


def every_object(run: PodRun) -> list[dict]:
    return [manifests.job(run), *manifests.owned(run, UID)]


@pytest.mark.parametrize(
    ("version", "per_index"), [(OLDEST, False), (NEWEST, True), (NEWEST, False)]
)
def test_objects_are_valid_kubernetes_resources(tmp_path, version, per_index):
    run = make_run(tmp_path, per_index_backoff=per_index)
    for body in every_object(run):
        kubernetes_validate.validate(body, version, strict=True)


def test_the_validator_rejects_a_broken_job(tmp_path):
    """The check above can fail: a misspelled field in the pod's template does not pass."""
    job = manifests.job(make_run(tmp_path))
    job["spec"]["template"]["spec"]["automountServiceAcountToken"] = False
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(job, OLDEST, strict=True)


def test_the_job_runs_n_pods_once_each_bounded(tmp_path):
    run = make_run(tmp_path, pods=5, deadline=1234, ttl=77)
    spec = manifests.job(run)["spec"]
    assert manifests.job(run)["metadata"]["name"] == "molotov-0a1b2c3d"
    assert spec["completionMode"] == "Indexed"
    assert spec["completions"] == spec["parallelism"] == 5
    assert spec["backoffLimitPerIndex"] == 0 and spec["maxFailedIndexes"] == 5
    assert "backoffLimit" not in spec
    assert spec["activeDeadlineSeconds"] == 1234 and spec["ttlSecondsAfterFinished"] == 77
    (rule,) = spec["podFailurePolicy"]["rules"]
    assert rule["action"] == "FailJob"
    assert rule["onExitCodes"] == {"containerName": "agent", "operator": "In", "values": [6]}
    old = manifests.job(make_run(tmp_path, per_index_backoff=False))["spec"]
    assert old["backoffLimit"] == 0 and "backoffLimitPerIndex" not in old


def test_pods_meet_the_restricted_profile(tmp_path):
    pod = manifests.job(make_run(tmp_path))["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["restartPolicy"] == "Never"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = pod["containers"]
    context = container["securityContext"]
    assert context["allowPrivilegeEscalation"] is False
    assert context["readOnlyRootFilesystem"] is True
    assert context["capabilities"] == {"drop": ["ALL"]}
    mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    assert set(mounts.values()) == set(volumes)
    env = {item["name"]: item for item in container["env"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    assert "emptyDir" in volumes[mounts[env["HOME"]["value"]]]
    assert container["readinessProbe"]["httpGet"] == {"path": "/v1/ready", "port": 8470}
    assert container["resources"]["requests"] == {"cpu": "250m", "memory": "512Mi"}
    assert container["resources"]["limits"] == {"memory": "512Mi"}  # no CPU limit


def test_every_object_is_found_by_the_run_labels_and_owned_by_the_job(tmp_path):
    run = make_run(tmp_path)
    wanted = dict(item.split("=") for item in manifests.selector(run.run_id).split(","))
    assert wanted == {"app.kubernetes.io/name": "molotov", "molotov.run-id": "0a1b2c3d"}
    job = manifests.job(run)
    assert wanted.items() <= job["spec"]["template"]["metadata"]["labels"].items()
    kinds = []
    for body in every_object(run):
        assert wanted.items() <= body["metadata"]["labels"].items()
        assert body["metadata"]["namespace"] == "load"
        kinds.append(body["kind"])
    assert kinds == ["Job", "Secret", "ConfigMap"]
    for body in manifests.owned(run, UID):
        (owner,) = body["metadata"]["ownerReferences"]
        assert owner == {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "name": job["metadata"]["name"],
            "uid": UID,
        }


def test_the_token_is_in_the_secret_and_reaches_the_agent(tmp_path):
    run = make_run(tmp_path, token="tok-éN")
    secret = manifests.secret(run, UID)
    assert base64.b64decode(secret["data"]["token"]).decode() == "tok-éN"
    (container,) = manifests.job(run)["spec"]["template"]["spec"]["containers"]
    (token,) = [item for item in container["env"] if item["name"] == "MOLOTOV_AGENT_TOKEN"]
    assert token["valueFrom"]["secretKeyRef"] == {"name": "molotov-0a1b2c3d", "key": "token"}
    assert container["command"] == [
        "molotov",
        "--agent",
        "--listen",
        "0.0.0.0:8470",
        "/molotov/scenario/loadtest.py",
    ]


def rebuild(shipment: shipping.Shipment, root: Path) -> None:
    """What the kubelet does with the ConfigMap volume's items."""
    for item in shipment.items:
        target = root / PurePosixPath(item["path"])
        target.parent.mkdir(parents=True, exist_ok=True)
        if item["key"] in shipment.data:
            target.write_bytes(shipment.data[item["key"]].encode())
        else:
            target.write_bytes(base64.b64decode(shipment.binary_data[item["key"]]))


def test_a_directory_ships_whole_with_its_subdirectories(tmp_path):
    source = tmp_path / "suite"
    (source / "lib" / "__pycache__").mkdir(parents=True)
    (source / "loadtest.py").write_text("import lib.helpers\n")
    (source / "lib" / "helpers.py").write_text("X = 1\n")
    (source / "lib" / "blob.bin").write_bytes(b"\xff\x00\xfe")
    (source / "lib" / "__pycache__" / "helpers.pyc").write_bytes(b"junk")
    shipment = shipping.ship(source)
    assert shipment.scenario == "suite/loadtest.py"
    out = tmp_path / "mounted"
    rebuild(shipment, out)
    shipped = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert shipped == ["suite/lib/blob.bin", "suite/lib/helpers.py", "suite/loadtest.py"]
    assert (out / "suite/lib/blob.bin").read_bytes() == b"\xff\x00\xfe"
    run = make_run(tmp_path, shipment=shipment)
    volume = manifests.job(run)["spec"]["template"]["spec"]["volumes"][-1]
    assert volume["configMap"]["items"] == shipment.items
    kubernetes_validate.validate(manifests.config_map(run, UID), NEWEST, strict=True)


def test_too_big_a_scenario_is_refused_with_what_to_do(tmp_path):
    source = tmp_path / "big"
    source.mkdir()
    (source / "loadtest.py").write_text("pass\n")
    (source / "data.txt").write_text("x" * (901 * 1024))
    with pytest.raises(shipping.ShippingError) as caught:
        shipping.ship(source)
    message = str(caught.value)
    assert "\n" not in message and "900 KiB" in message and "--repo" in message


def test_a_directory_without_its_entry_and_a_missing_path_are_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(shipping.ShippingError, match=r"loadtest\.py"):
        shipping.ship(tmp_path / "empty")
    with pytest.raises(shipping.ShippingError, match="no such file"):
        shipping.ship(tmp_path / "nothing.py")


def test_repo_mode_runs_moloslave_on_the_pinned_commit_without_a_config_map(tmp_path):
    repo = RepoSource("https://git.example.com/t.git", "a" * 40, "tests/loadtest.py")
    run = make_run(tmp_path, shipment=None, repo=repo)
    assert manifests.config_map(run, UID) is None
    assert [body["kind"] for body in every_object(run)] == ["Job", "Secret"]
    (container,) = manifests.job(run)["spec"]["template"]["spec"]["containers"]
    assert container["command"] == [
        "moloslave",
        "--agent",
        "--listen",
        "0.0.0.0:8470",
        "--ref",
        "a" * 40,
        "https://git.example.com/t.git",
        "tests/loadtest.py",
    ]
    for body in every_object(run):
        kubernetes_validate.validate(body, OLDEST, strict=True)


def test_print_role_prints_a_valid_role_granting_what_the_preflight_checks():
    result = run_command(
        [sys.executable, "-m", "molotov", "--print-role", "--namespace", "load"],
        Path.cwd(),
        molotov_env(),
        30,
    )
    assert result.returncode == 0, result.stderr
    role, binding = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    for doc in (role, binding):
        kubernetes_validate.validate(doc, NEWEST, strict=True)
        assert doc["metadata"]["namespace"] == "load"
    granted = {
        (rule["apiGroups"][0], resource, verb)
        for rule in role["rules"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    checked = {
        (p.group, f"{p.resource}/{p.subresource}" if p.subresource else p.resource, p.verb)
        for p in rbac.PERMISSIONS
    }
    assert granted == checked
    assert ("", "pods/proxy", "create") in granted and ("batch", "jobs", "delete") in granted
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
