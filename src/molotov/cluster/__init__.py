"""Cluster runs: one coordinator drives N agents (``--agents``) or N pods (``--pods``)."""
