"""Logs, the access log and Prometheus metrics: what an operator sees of a running server."""
