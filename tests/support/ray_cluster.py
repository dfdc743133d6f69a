"""A local Ray cluster for the tests: a head that runs nothing (drivers connect to it) and worker nodes
that declare GPUs and custom resources, so placement is tested on a CPU machine. Its processes find the
tests' engines (`support.engines`) on their path; its files live in a temp dir of its own."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from support.server import TESTS_DIR

# Each node's shared-memory object store; Ray's default takes 30% of the machine's memory per node.
OBJECT_STORE_BYTES = 80 * 1024 * 1024


@dataclass
class RayCluster:
    cluster: Any  # ray.cluster_utils.Cluster

    @property
    def address(self) -> str:
        return str(self.cluster.address)

    def add_node(self, **resources: Any) -> Any:
        node = self.cluster.add_node(
            object_store_memory=OBJECT_STORE_BYTES, env_vars={"PYTHONPATH": str(TESTS_DIR)}, **resources
        )
        self.cluster.wait_for_nodes()
        return node

    def node(self, node_id: str) -> Any:
        """The worker node (`ray._private.node.Node`) with this id."""
        for node in self.cluster.worker_nodes:
            if node.node_id == node_id:
                return node
        raise LookupError(node_id)

    def remove(self, node_id: str) -> None:
        """Lose a node as a crashed machine is lost: its raylet and workers killed, not drained."""
        self.cluster.remove_node(self.node(node_id), allow_graceful=False)


@contextlib.contextmanager
def ray_cluster() -> Iterator[RayCluster]:
    cluster_utils = pytest.importorskip("ray.cluster_utils")
    # Short: Ray's socket paths live under it and must fit in 107 bytes.
    root = Path(tempfile.mkdtemp(prefix="twray-", dir="/tmp"))
    # The cluster writes its address to $RAY_TMPDIR/ray/ (/tmp/ray/ by default, missing on a fresh
    # machine): here, into the cluster's own dir, not over a cluster of the user's.
    (root / "ray").mkdir()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RAY_TMPDIR", str(root))
        cluster = cluster_utils.Cluster(
            initialize_head=True,
            head_node_args={
                "num_cpus": 0,
                "include_dashboard": False,
                "temp_dir": str(root),
                "object_store_memory": OBJECT_STORE_BYTES,
                "env_vars": {"PYTHONPATH": str(TESTS_DIR)},
            },
        )
        made = RayCluster(cluster)
        try:
            made.add_node(num_cpus=4, num_gpus=1, resources={"A100": 1})
            yield made
        finally:
            cluster.shutdown()
            shutil.rmtree(root, ignore_errors=True)
