"""Workflows and recipes through the official Node SDK (the Python SDK's runs, with every output
checked, are in test_workflows and test_recipes): one Node process drives them all, side by side."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from support.recipe_requests import cases
from support.server import Server
from support.workflow_graphs import KEYFRAMES, KEYFRAMES_COST, write

NODE_DIR = Path(__file__).parent / "node"


@pytest.mark.skipif(
    shutil.which("node") is None or not (NODE_DIR / "node_modules" / "@runwayml" / "sdk").exists(),
    reason="the Node SDK is installed by `make test` (npm ci in tests/conformance/node)",
)
def test_node_sdk_runs_workflows_and_recipes(server: Server, conformance_key: str, tmp_path: Path) -> None:
    added = server.cli("workflows", "add", str(write(tmp_path, KEYFRAMES)))
    workflow_id = added.split()[-1]
    spec: dict[str, Any] = {
        "baseURL": server.base_url,
        "apiKey": conformance_key,
        "workflowId": workflow_id,
        "nodeOutputs": {"prompt": {"text": {"type": "primitive", "value": "a kite over dunes"}}},
        "recipes": [{"method": case.node_method, "params": case.body} for case in cases()],
    }
    result = subprocess.run(
        ["node", "orchestration.mjs"], cwd=NODE_DIR, input=json.dumps(spec), capture_output=True, text=True,
        timeout=400,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found.get("ok", True), found
    assert workflow_id in [v["id"] for item in found["workflows"]["data"] for v in item["versions"]]
    assert found["workflow"]["graph"]["version"] == 1
    assert found["workflow"]["description"] == KEYFRAMES["description"]
    invocation = found["invocation"]
    assert invocation["status"] == "SUCCEEDED"
    assert set(invocation["output"]) == {"first", "last", "clip"}
    assert invocation["cost"] == {"credits": KEYFRAMES_COST}
    for case, outcome in zip(cases(), found["recipes"], strict=True):
        assert outcome["ok"], (case.method, outcome)
        assert outcome["created"]["estimatedCost"] == {"credits": case.credits}
        assert outcome["task"]["id"] == outcome["created"]["id"]
        assert outcome["task"]["status"] in ("PENDING", "THROTTLED", "RUNNING", "SUCCEEDED")
