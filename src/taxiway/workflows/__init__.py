"""Operator-defined workflow graphs, run node by node as tasks."""
