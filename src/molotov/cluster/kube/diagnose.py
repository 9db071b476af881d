"""Why a pod is not ready, or what happened to it, from what Kubernetes reports.

Pure functions over the API's JSON: the container's terminated state (OOMKilled, the agent's
setup exit code with its last line, which ``FallbackToLogsOnError`` put in the message), its
waiting state (ErrImagePull, ImagePullBackOff, CreateContainerConfigError), the pod's
conditions (Unschedulable), its status reason (Evicted), then the newest warning event about
it. The Job's own events say why pods were not even created (a quota's FailedCreate).
"""

from __future__ import annotations

from typing import Any

from molotov.cluster.exitcodes import AGENT_EXIT_SETUP


def ready(pod: dict[str, Any]) -> bool:
    conditions = pod.get("status", {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def terminated(pod: dict[str, Any]) -> dict[str, Any] | None:
    """The agent container's terminated state, if it ended."""
    for status in pod.get("status", {}).get("containerStatuses") or []:
        state = status.get("state", {})
        if state.get("terminated"):
            found: dict[str, Any] = state["terminated"]
            return found
    return None


def setup_failed(pod: dict[str, Any]) -> bool:
    ended = terminated(pod)
    return ended is not None and ended.get("exitCode") == AGENT_EXIT_SETUP


def _terminated_reason(ended: dict[str, Any]) -> str:
    code = ended.get("exitCode")
    line = last_line(str(ended.get("message") or ""))
    if code == AGENT_EXIT_SETUP:
        return f"the agent refused its scenario or options (exit {code}): {line}"
    reason = ended.get("reason") or "Terminated"
    return f"{reason} (exit {code})" + (f": {line}" if line else "")


def _events_about(name: str, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    about = [e for e in events if e.get("involvedObject", {}).get("name") == name]
    return sorted(about, key=lambda e: str(e.get("lastTimestamp") or e.get("eventTime") or ""))


def _event_line(event: dict[str, Any]) -> str:
    return f"{event.get('reason', 'Event')}: {event.get('message', '')}".strip()


def pod_reason(pod: dict[str, Any], events: list[dict[str, Any]]) -> str:
    """One line: why ``pod`` is not ready (or what ended it)."""
    status = pod.get("status", {})
    ended = terminated(pod)
    if ended is not None:
        return _terminated_reason(ended)
    for container in status.get("containerStatuses") or []:
        waiting = container.get("state", {}).get("waiting")
        if waiting and waiting.get("reason") not in (None, "ContainerCreating"):
            message = waiting.get("message")
            return f"{waiting['reason']}" + (f": {message}" if message else "")
    if status.get("reason"):
        return f"{status['reason']}: {status.get('message', '')}".rstrip(": ")
    for condition in status.get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
            return f"{condition.get('reason', 'Unschedulable')}: {condition.get('message', '')}"
    warnings = [
        e for e in _events_about(pod["metadata"]["name"], events) if e.get("type") == "Warning"
    ]
    if warnings:
        return _event_line(warnings[-1])
    phase = status.get("phase", "Pending")
    return f"{phase}, not ready (its readiness probe on /v1/ready did not pass)"


def job_reasons(job_name: str, events: list[dict[str, Any]]) -> list[str]:
    """The Job's warnings (FailedCreate: quota, admission), newest last."""
    return [_event_line(e) for e in _events_about(job_name, events) if e.get("type") == "Warning"]


def job_failed(job: dict[str, Any]) -> str:
    """The Job's Failed condition as one line, or ''."""
    for condition in job.get("status", {}).get("conditions") or []:
        if condition.get("type") == "Failed" and condition.get("status") == "True":
            return f"{condition.get('reason', 'Failed')}: {condition.get('message', '')}"
    return ""


def health(pod: dict[str, Any]) -> str:
    """What the platform says of a pod that is no longer running its agent, or ''."""
    status = pod.get("status", {})
    ended = terminated(pod)
    if ended is not None and ended.get("exitCode") != 0:
        return _terminated_reason(ended)
    if status.get("reason"):  # Evicted, NodeLost, ...
        return str(status["reason"])
    for condition in status.get("conditions") or []:
        if condition.get("type") == "DisruptionTarget" and condition.get("status") == "True":
            return f"{condition.get('reason', 'Disrupted')}: {condition.get('message', '')}"
    return ""
