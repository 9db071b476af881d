"""The permissions a ``--pods`` run needs, as the preflight checks them and as a Role to apply.

One list, :data:`PERMISSIONS`, feeds both: the SelfSubjectAccessReview preflight names what
is missing, and ``molotov --print-role`` prints the namespaced Role and a RoleBinding
template granting exactly that. Creating a SelfSubjectAccessReview is allowed to every
authenticated user by default (the ``system:basic-user`` ClusterRole), so it is not in the Role.
"""

from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass(frozen=True)
class Permission:
    group: str  # "" is the core group
    resource: str
    verb: str
    subresource: str = ""

    def __str__(self) -> str:
        resource = f"{self.resource}/{self.subresource}" if self.subresource else self.resource
        group = f".{self.group}" if self.group else ""
        return f"{self.verb} {resource}{group}"


def _grant(group: str, resource: str, verbs: str, subresource: str = "") -> list[Permission]:
    return [Permission(group, resource, verb, subresource) for verb in verbs.split()]


PERMISSIONS: tuple[Permission, ...] = (
    *_grant("batch", "jobs", "create get list delete"),
    *_grant("", "configmaps", "create list delete"),
    *_grant("", "secrets", "create list delete"),
    *_grant("", "pods", "get list"),
    *_grant("", "pods", "get create", "proxy"),
    *_grant("", "events", "list"),
)
ROLE_NAME = "molotov-runner"


def _rules() -> list[tuple[str, str, list[str]]]:
    """(group, resource, verbs) in the order of :data:`PERMISSIONS`, one rule per resource."""
    rules: dict[tuple[str, str], list[str]] = {}
    for item in PERMISSIONS:
        name = f"{item.resource}/{item.subresource}" if item.subresource else item.resource
        rules.setdefault((item.group, name), []).append(item.verb)
    return [(group, resource, verbs) for (group, resource), verbs in rules.items()]


def role_yaml(namespace: str) -> str:
    """The Role and a RoleBinding template (the subject is left for the user to fill in)."""
    lines = [
        "# The permissions `molotov --pods` needs in its namespace. Apply with:",
        "#   molotov --print-role --namespace NS > role.yaml, edit the subject, kubectl apply -f",
        "apiVersion: rbac.authorization.k8s.io/v1",
        "kind: Role",
        "metadata:",
        f"  name: {ROLE_NAME}",
        f"  namespace: {namespace}",
        "rules:",
    ]
    for group, resource, verbs in _rules():
        lines += [
            f"  - apiGroups: {json.dumps([group])}",  # JSON's lists are YAML flow sequences
            f"    resources: {json.dumps([resource])}",
            f"    verbs: {json.dumps(verbs)}",
        ]
    lines += [
        "---",
        "apiVersion: rbac.authorization.k8s.io/v1",
        "kind: RoleBinding",
        "metadata:",
        f"  name: {ROLE_NAME}",
        f"  namespace: {namespace}",
        "roleRef:",
        "  apiGroup: rbac.authorization.k8s.io",
        "  kind: Role",
        f"  name: {ROLE_NAME}",
        "subjects:  # who runs molotov: a User, a Group or a ServiceAccount",
        "  - apiGroup: rbac.authorization.k8s.io",
        "    kind: User",
        "    name: REPLACE-WITH-YOUR-USER",
    ]
    return "\n".join(lines) + "\n"
