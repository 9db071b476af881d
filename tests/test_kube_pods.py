"""``molotov --pods``: the real coordinator and the real agent processes, with the Kubernetes
side played by tests/kubeemu, an EMULATOR of the API server, Job controller and kubelet
(CI has no Kubernetes). After every test, no object with the run's labels is left."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
import trustme
from dulwich import porcelain

from kubeemu import Emulator, Fault, emulating, kubeconfig, tls_context
from support import molotov_env, run_command

RUNS = "app.kubernetes.io/name=molotov"
TOKEN = "emulated-bearer-token"
SCENARIO = """
from molotov import scenario

@scenario()
async def hit(session):
    async with session.get({url!r}) as resp:
        assert resp.status == 200
"""


@pytest.fixture
def cluster(tmp_path):
    """A running emulator, its kubeconfig (bearer token), no object of a run left after."""
    (tmp_path / "emu").mkdir()
    emu = Emulator(workdir=tmp_path / "emu")
    with emulating(emu):
        emu.kubeconfig = kubeconfig.write(tmp_path / "kubeconfig", emu.url, {"token": TOKEN})
        yield emu
        assert emu.leftovers(RUNS) == []


def pods_command(emu, tmp_path, target_url, *args, ready="30s", kubeconfig_path=None):
    """The coordinator's argv and environment for a 2-pod run of SCENARIO in ``tmp_path``."""
    (tmp_path / "loadtest.py").write_text(SCENARIO.format(url=target_url + "/"))
    argv = [
        sys.executable,
        "-m",
        "molotov",
        "loadtest.py",
        "--pods",
        "2",
        "--image",
        "molotov:test",
        "-c",
        "--ready-timeout",
        ready,
        *args,
    ]
    env = molotov_env(target_url, KUBECONFIG=str(kubeconfig_path or emu.kubeconfig))
    return argv, env


def pods_run(emu, tmp_path, target_url, *args, timeout=90, kubeconfig_path=None):
    argv, env = pods_command(emu, tmp_path, target_url, *args, kubeconfig_path=kubeconfig_path)
    return run_command(argv, tmp_path, env, timeout)


def until(condition, tries=300, pause=0.05):
    """Poll ``condition`` (bounded: ``tries`` looks, ``pause`` s apart); its last value."""
    for _ in range(tries):
        if value := condition():
            return value
        time.sleep(pause)
    return condition()


def calls(emu, method, part):
    return [status for m, path, status in emu.log if m == method and part in path]


def test_a_run_on_pods_end_to_end(cluster, tmp_path, target):
    result = pods_run(cluster, tmp_path, target.url, "-d", "2", "--report", "r.json")
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["totals"]["requests"] == target.hits["/"] > 0
    assert report["cluster"]["reported"] == 2
    # Every agent call went through the pod proxy, with the Job created first.
    assert calls(cluster, "POST", "/proxy/v1/start") == [200, 200]
    creates = [
        path.rsplit("/", 1)[-1]
        for m, path, _ in cluster.log
        if m == "POST" and "/namespaces/" in path and "/proxy/" not in path
    ]
    assert creates == ["jobs", "secrets", "configmaps"]
    assert calls(cluster, "DELETE", "/jobs/") == [200]


def test_a_pending_pod_aborts_the_run_naming_it_and_why(cluster, tmp_path, target):
    result = pods_run(
        cluster, tmp_path, target.url, "-d", "2", "--cpu", "6", "--ready-timeout", "4s"
    )
    assert result.returncode == 4, result.stderr
    # 8 CPUs: the first pod fits, the second stays Pending.
    (line,) = [line for line in result.stderr.splitlines() if "Unschedulable" in line]
    assert line.startswith("pod molotov-") and "-1-" in line and "Insufficient cpu" in line
    assert target.total == 0


def test_a_scenario_error_fails_the_job_at_once_with_the_pods_line(cluster, tmp_path, target):
    (tmp_path / "loadtest.py").write_text("import no_such_module_here\n")
    argv = [
        sys.executable,
        "-m",
        "molotov",
        "loadtest.py",
        "--pods",
        "2",
        "--image",
        "molotov:test",
        "-c",
        "--ready-timeout",
        "60s",
        "-d",
        "2",
    ]
    env = molotov_env(target.url, KUBECONFIG=str(cluster.kubeconfig))
    result = run_command(argv, tmp_path, env, 90)
    assert result.returncode == 4, result.stderr
    assert "PodFailurePolicy" in result.stderr  # the Job failed on the agent's exit code 6
    assert "exit 6" in result.stderr and "no_such_module_here" in result.stderr
    assert cluster.history[-1][1:] == ("Failed", "PodFailurePolicy")


def test_a_missing_permission_is_named_and_nothing_is_created(cluster, tmp_path, target):
    cluster.denied = {"create pods/proxy", "list events"}
    result = pods_run(cluster, tmp_path, target.url, "-d", "2")
    assert result.returncode == 4, result.stderr
    assert "create pods/proxy" in result.stderr and "list events" in result.stderr
    assert "--print-role" in result.stderr
    assert calls(cluster, "POST", "/jobs") == []


def test_a_name_clash_takes_a_new_run_id_once_and_never_touches_the_other(
    cluster, tmp_path, target
):
    cluster.squat = 1
    result = pods_run(cluster, tmp_path, target.url, "-d", "1")
    assert result.returncode == 0, result.stderr
    assert calls(cluster, "POST", "/jobs") == [409, 201]
    (foreign,) = cluster.store.all("jobs", None, "owner=someone-else")
    cluster.squat = 2  # the new name is taken too: give up, name it, touch nothing
    result = pods_run(cluster, tmp_path, target.url, "-d", "1")
    assert result.returncode == 4
    assert "already exists" in result.stderr and "molotov-" in result.stderr
    assert len(cluster.store.all("jobs", None, "owner=someone-else")) == 3
    assert foreign in cluster.store.all("jobs", None, "owner=someone-else")
    assert calls(cluster, "DELETE", "/jobs/") == [200]  # only the first run's own Job


def test_busy_and_unavailable_answers_are_retried(cluster, tmp_path, target):
    cluster.faults = [
        Fault("POST", "selfsubjectaccessreviews", 429, times=2),
        Fault("POST", "/secrets", 503),
        Fault("GET", "/pods", 429, times=2),
        Fault("DELETE", "/jobs/", 503),
    ]
    result = pods_run(cluster, tmp_path, target.url, "-d", "1")
    assert result.returncode == 0, result.stderr
    assert all(fault.times == 0 for fault in cluster.faults)
    assert calls(cluster, "POST", "/secrets")[-2:] == [503, 201]
    assert calls(cluster, "DELETE", "/jobs/") == [503, 200]


def test_client_certificate_and_exec_plugin_kubeconfigs(tmp_path, target):
    ca = trustme.CA()
    client = ca.issue_cert("tester@emulated")
    (tmp_path / "emu").mkdir()
    emu = Emulator(workdir=tmp_path / "emu", tls=tls_context(ca), tokens=set())
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    client.cert_chain_pems[0].write_to_path(str(tmp_path / "client.pem"))
    client.private_key_pem.write_to_path(str(tmp_path / "client.key"))
    with emulating(emu):
        user = {
            "client-certificate": str(tmp_path / "client.pem"),
            "client-key": str(tmp_path / "client.key"),
        }
        path = kubeconfig.write(
            tmp_path / "cert.yaml", emu.url, user, ca_file=str(tmp_path / "ca.pem")
        )
        result = pods_run(emu, tmp_path, target.url, "-d", "1", kubeconfig_path=path)
        assert result.returncode == 0, result.stderr
        # Exec tokens live 4 s here: a run of more than that needs the plugin again.
        user, runs = kubeconfig.exec_plugin(tmp_path)
        path = kubeconfig.write(
            tmp_path / "exec.yaml", emu.url, user, ca_file=str(tmp_path / "ca.pem")
        )
        result = pods_run(emu, tmp_path, target.url, "-d", "5", kubeconfig_path=path)
        assert result.returncode == 0, result.stderr
        assert len(runs.read_text().split()) >= 2
        assert not [s for *_, s in emu.log if s == 401]
        assert emu.leftovers(RUNS) == []


def test_in_a_pod_without_a_kubeconfig_the_service_account_is_used(tmp_path, target):
    """A coordinator in a pod: no kubeconfig (none in HOME, no KUBECONFIG), the API server in
    KUBERNETES_SERVICE_HOST/PORT (TLS, signed by the account's CA), the account's token, and
    the pod's namespace. Kubernetes mounts the account's files in a fixed directory; this
    run's are in a temp one (the client's SERVICE_ACCOUNT_DIR), nothing else stands in."""
    ca = trustme.CA()
    account = tmp_path / "serviceaccount"
    account.mkdir()
    (account / "token").write_text("service-account-token")  # no newline, as mounted
    (account / "namespace").write_text("in-pod")
    ca.cert_pem.write_to_path(str(account / "ca.crt"))
    (tmp_path / "emu").mkdir()
    (tmp_path / "home").mkdir()
    emu = Emulator(workdir=tmp_path / "emu", tls=tls_context(ca), tokens={"service-account-token"})
    with emulating(emu):
        argv, env = pods_command(emu, tmp_path, target.url, "-d", "1", "--report", "r.json")
        del env["KUBECONFIG"]
        port = emu.url.rsplit(":", 1)[1]
        env.update(
            HOME=str(tmp_path / "home"),
            KUBERNETES_SERVICE_HOST="127.0.0.1",
            KUBERNETES_SERVICE_PORT=port,
        )
        code = (
            "import molotov.cluster.kube.client as kube\n"
            f"kube.SERVICE_ACCOUNT_DIR = {str(account)!r}\n"
            "from molotov.cli import main; main()\n"
        )
        result = run_command([sys.executable, "-c", code, *argv[3:]], tmp_path, env, 90)
        assert result.returncode == 0, result.stderr
        assert emu.leftovers(RUNS) == []
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["totals"]["requests"] == target.hits["/"] > 0
    # Every call in the pod's namespace, none refused: the account's token was sent.
    paths = [path for _, path, _ in emu.log if "/namespaces/" in path]
    assert paths and all("/namespaces/in-pod/" in path for path in paths)
    assert not [status for *_, status in emu.log if status == 401]


def test_after_a_coordinator_sigkill_the_deadline_and_ttl_remove_everything(
    cluster, tmp_path, target
):
    cluster.clock_scale = 100.0  # the Job's deadline (~6 min here) passes in seconds
    argv, env = pods_command(cluster, tmp_path, target.url, "-d", "60", ready="20s")
    coordinator = subprocess.Popen(
        argv, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        assert until(lambda: cluster.store.all("pods", None, RUNS))
    finally:
        coordinator.send_signal(signal.SIGKILL)
        coordinator.wait(10)
    assert until(lambda: not cluster.leftovers(RUNS), pause=0.1)
    assert cluster.leftovers(RUNS) == []
    assert [(how, why) for _, how, why in cluster.history] == [("Failed", "DeadlineExceeded")]


def test_repo_mode_pins_the_ref_and_the_pods_clone_and_install_it(cluster, tmp_path, target):
    source = tmp_path / "repo"
    source.mkdir()
    (source / "suite").mkdir()
    (source / "suite" / "loadtest.py").write_text(SCENARIO.format(url=target.url + "/"))
    (source / "requirements.txt").write_text("# nothing to install, but a venv all the same\n")
    (source / "molotov.json").write_text(
        json.dumps({"molotov": {"requirements": "requirements.txt", "tests": {}}})
    )
    files = ["suite/loadtest.py", "requirements.txt", "molotov.json"]
    with porcelain.init(str(source)) as repo:
        porcelain.add(repo, [str(source / name) for name in files])
        commit = porcelain.commit(repo, message=b"t", author=b"t <t@t>", committer=b"t <t@t>")
    argv = [
        sys.executable,
        "-m",
        "molotov",
        "suite/loadtest.py",
        "--pods",
        "2",
        "--image",
        "molotov:test",
        "-c",
        "--ready-timeout",
        "60s",
        "-d",
        "1",
        "--repo",
        str(source),
        "--ref",
        "master",
        "--report",
        "r.json",
    ]
    env = molotov_env(target.url, KUBECONFIG=str(cluster.kubeconfig))
    result = run_command(argv, tmp_path, env, 120)
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "r.json").read_text())["totals"]["requests"] == target.hits["/"]
    logs = sorted((tmp_path / "emu").glob("*/log"))
    assert len(logs) == 2
    for log in logs:
        text = log.read_text()
        assert f"at {commit.decode()}" in text and "Installing requirements.txt" in text
    assert calls(cluster, "POST", "/configmaps") == []  # nothing shipped: the pods cloned


def test_a_pod_oom_killed_mid_run_is_named_and_the_result_is_partial(cluster, tmp_path, target):
    cluster.oom = {1: 2.5}  # pod index 1, 2.5 s after its container started
    result = pods_run(cluster, tmp_path, target.url, "-d", "5", "--report", "r.json")
    assert result.returncode == 3, result.stderr
    assert "OOMKilled" in result.stdout + result.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    lost = {item["name"].split("-")[2]: item["why"] for item in report["cluster"]["lost"]}
    assert "OOMKilled" in lost["1"]  # pod index 1: what Kubernetes said of it


def test_without_the_kubernetes_client_one_line_says_what_to_install(tmp_path):
    (tmp_path / "loadtest.py").write_text("")
    code = (
        "import sys; sys.modules['kubernetes_asyncio'] = None\n"  # as if not installed
        "from molotov.cli import main; main()\n"
    )
    argv = [sys.executable, "-c", code, "loadtest.py", "--pods", "2", "--image", "x"]
    result = run_command(argv, tmp_path, molotov_env(), 30)
    assert result.returncode == 2
    assert (
        result.stderr == "--pods needs the Kubernetes client: pip install 'molotov[kubernetes]'\n"
    )


def test_a_ref_that_the_repository_lacks_is_one_line_before_anything_is_created(tmp_path):
    source = tmp_path / "repo"
    source.mkdir()
    (source / "loadtest.py").write_text("")
    with porcelain.init(str(source)) as repo:
        porcelain.add(repo, [str(source / "loadtest.py")])
        porcelain.commit(repo, message=b"t", author=b"t <t@t>", committer=b"t <t@t>")
    argv = [
        sys.executable,
        "-m",
        "molotov",
        "loadtest.py",
        "--pods",
        "1",
        "--image",
        "x",
        "--repo",
        str(source),
        "--ref",
        "no-such-branch",
    ]
    env = molotov_env(KUBECONFIG=str(tmp_path / "none"))  # never read: it fails before
    result = run_command(argv, tmp_path, env, 30)
    assert result.returncode == 2
    assert (
        result.stderr
        == f"Can't find ref 'no-such-branch' in {str(source)!r}: not a branch or a tag\n"
    )


def test_a_third_ctrl_c_prints_the_line_that_deletes_the_run(cluster, tmp_path, target):
    cluster.clock_scale = 100.0  # then the deadline and the TTL clean up, in seconds
    argv, env = pods_command(cluster, tmp_path, target.url, "-d", "60", ready="20s")
    coordinator = subprocess.Popen(
        argv, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        until(lambda: cluster.store.all("pods", None, RUNS))
        for _ in range(3):
            coordinator.send_signal(signal.SIGINT)
            time.sleep(0.05)
        _, stderr = coordinator.communicate(timeout=30)
    finally:
        coordinator.kill()
    (line,) = [line for line in stderr.splitlines() if "kubectl delete" in line]
    (job,) = {name for name, *_ in cluster.history} or {
        body["metadata"]["name"] for body in cluster.store.all("jobs", None, RUNS)
    }
    run_id = job.removeprefix("molotov-")
    assert line.endswith(
        f"kubectl delete job,pod,secret,configmap -n load "
        f"-l app.kubernetes.io/name=molotov,molotov.run-id={run_id}"
    )
    until(lambda: not cluster.leftovers(RUNS), pause=0.1)


def test_an_image_that_does_not_pull_and_a_quota_are_named(cluster, tmp_path, target):
    cluster.bad_images = {"molotov:test"}
    cluster.pod_quota = 1  # the second pod is never created
    result = pods_run(cluster, tmp_path, target.url, "-d", "1", "--ready-timeout", "3s")
    assert result.returncode == 4, result.stderr
    (pulled,) = [line for line in result.stderr.splitlines() if line.startswith("pod ")]
    assert "-0-" in pulled and ("ImagePullBackOff" in pulled or "ErrImagePull" in pulled)
    assert 'Back-off pulling image "molotov:test"' in pulled
    (missing,) = [line for line in result.stderr.splitlines() if "pods missing" in line]
    assert "1 of 2 pods missing: FailedCreate" in missing and "exceeded quota" in missing
