"""An EMULATOR of a Kubernetes cluster for the tests: it stands in for a real API server,
controller manager and kubelet, which CI cannot run. It is not Kubernetes.

It serves, on 127.0.0.1 (plain HTTP or TLS), only the endpoints ``molotov --pods`` calls
(:mod:`.apiserver`), keeps their objects with uids, resourceVersions, labels and
ownerReferences (:mod:`.store`), runs a Job controller with indexed pods, per-index backoff,
podFailurePolicy, activeDeadlineSeconds, ttlSecondsAfterFinished and the garbage collection of
owned objects (:mod:`.controller`), and a kubelet that starts each pod's REAL command (``molotov
--agent ...`` as a subprocess of ``sys.executable``) on a loopback address of its own and
forwards the pod proxy to it (:mod:`.kubelet`). Knobs make it answer 403, 409, 429 and 503,
leave a pod unschedulable (allocatable CPU) and OOM-kill one. :mod:`.kubeconfig` writes
kubeconfigs with a bearer token, a client certificate or an exec plugin.
"""

from kubeemu.cluster import Emulator, Fault, emulating, tls_context

__all__ = ["Emulator", "Fault", "emulating", "tls_context"]
