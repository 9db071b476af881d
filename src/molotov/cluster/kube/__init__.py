"""The Kubernetes side of a cluster run (``--pods``): manifests, the API client, the fleet.

Only this package imports ``kubernetes_asyncio`` (the optional extra ``molotov[kubernetes]``),
and only in :mod:`molotov.cluster.kube.client`; the manifests are plain dictionaries.
"""
