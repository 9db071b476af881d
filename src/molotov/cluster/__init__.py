"""Cluster runs: one coordinator drives N agents (``--agents``), one start, one merged report.

An agent (``molotov --agent --listen HOST:PORT SCENARIO``, :mod:`molotov.cluster.agent`) is a
molotov parent process that answers a small HTTP API (:mod:`molotov.cluster.protocol`) and runs
one held run when told. The coordinator (:mod:`molotov.cluster.coordinator`) reaches agents
through an :class:`~molotov.cluster.transport.AgentTransport` given by a
:class:`~molotov.cluster.fleet.Fleet` (the agents the user started, or Kubernetes pods).
"""
