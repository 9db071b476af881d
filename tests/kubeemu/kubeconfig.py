"""Kubeconfig files for the emulator: a bearer token, a client certificate (TLS, the CA and
certificates made by ``trustme``), or an exec plugin (a shell script that prints a short-lived
``ExecCredential`` token and counts its runs, to prove that the client refreshes it)."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any


def write(
    path: Path,
    server: str,
    user: dict[str, Any],
    namespace: str = "load",
    ca_file: str | None = None,
) -> Path:
    cluster: dict[str, Any] = {"server": server}
    if ca_file:
        cluster["certificate-authority"] = ca_file
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "emulated", "cluster": cluster}],
        "users": [{"name": "tester", "user": user}],
        "contexts": [
            {
                "name": "emulated",
                "context": {"cluster": "emulated", "user": "tester", "namespace": namespace},
            }
        ],
        "current-context": "emulated",
    }
    path.write_text(json.dumps(config, indent=1))  # JSON is YAML
    return path


def exec_plugin(directory: Path) -> tuple[dict[str, Any], Path]:
    """(the kubeconfig's user entry, the file that counts the plugin's runs)."""
    counter = directory / "exec-runs"
    script = directory / "credential.sh"
    script.write_text(
        "#!/bin/sh\n"
        f"echo run >> '{counter}'\n"
        "NOW=$(date +%s)\n"
        "EXP=$(date -u -d @$((NOW + 60)) +%Y-%m-%dT%H:%M:%SZ)\n"
        'printf \'{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential",'
        '"status":{"token":"exec-%s","expirationTimestamp":"%s"}}\\n\' "$NOW" "$EXP"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    user = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": str(script),
            "interactiveMode": "Never",
        }
    }
    return user, counter
