"""The emulator's object store: namespaced objects by kind and name, with uids,
resourceVersions, creation timestamps, and equality label selectors."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def matches(labels: dict[str, str], selector: str) -> bool:
    """``k=v,k2!=v2`` (the equality selectors the client sends)."""
    for term in filter(None, (part.strip() for part in selector.split(","))):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key) == value:
                return False
        else:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key) != value:
                return False
    return True


class Store:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}  # (kind, ns, name)
        self.version = 0

    def _bump(self, body: dict[str, Any]) -> None:
        self.version += 1
        body["metadata"]["resourceVersion"] = str(self.version)

    def add(self, kind: str, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        meta = body.setdefault("metadata", {})
        meta["namespace"] = namespace
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_iso()
        meta["_created"] = time.monotonic()
        body.setdefault("status", {})
        self._bump(body)
        self.objects[(kind, namespace, meta["name"])] = body
        return body

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self.objects.get((kind, namespace, name))

    def touch(self, body: dict[str, Any]) -> None:
        self._bump(body)

    def remove(self, kind: str, namespace: str, name: str) -> None:
        self.objects.pop((kind, namespace, name), None)

    def all(self, kind: str, namespace: str | None = None, selector: str = "") -> list[dict]:
        return [
            body
            for (k, ns, _), body in list(self.objects.items())
            if k == kind
            and (namespace is None or ns == namespace)
            and matches(body["metadata"].get("labels") or {}, selector)
        ]

    def uids(self) -> set[str]:
        return {body["metadata"]["uid"] for body in self.objects.values()}

    def event(self, namespace: str, kind: str, name: str, reason: str, message: str) -> None:
        """A Warning event about an object (what ``kubectl describe`` shows)."""
        self.version += 1
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{name}.{self.version}"},
            "involvedObject": {"kind": kind, "name": name, "namespace": namespace},
            "reason": reason,
            "message": message,
            "type": "Warning",
            "lastTimestamp": now_iso(),
        }
        self.add("events", namespace, body)


def public(body: dict[str, Any]) -> dict[str, Any]:
    """The object as the API returns it (without the emulator's own bookkeeping)."""
    meta = {k: v for k, v in body["metadata"].items() if not k.startswith("_")}
    return {k: v for k, v in body.items() if not k.startswith("_")} | {"metadata": meta}
