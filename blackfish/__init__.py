"""Blackfish: a TLS-secured Docker Swarm cluster from one nodes.yml."""

__version__ = "0.1.0"
