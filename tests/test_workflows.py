"""Workflows: graphs checked against the catalog when published, runs checked before they are charged,
nodes run as tasks (side by side where they can), partial failures, isolation, and restarts."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import runwayml
from runwayml import RunwayML
from runwayml.lib.polling import WorkflowInvocationFailedError

from conformance.probe import probe
from support.clients import balance, documented, sdk
from support.server import Server
from support.workflow_graphs import (
    KEYFRAMES,
    KEYFRAMES_COST,
    PARTIAL,
    STILL_AND_MOVE,
    STILL_AND_MOVE_COST,
    write,
)
from taxiway.api.workflows import InvocationStarted, InvocationView, WorkflowList, WorkflowView
from taxiway.workflows.graph import GraphError, parse
from taxiway.workflows.invocations import resolve_inputs


def _broken(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    definition = copy.deepcopy(KEYFRAMES)
    change(definition["graph"])
    return definition


def _node(graph: dict[str, Any], node_id: str) -> dict[str, Any]:
    return next(node for node in graph["nodes"] if node["id"] == node_id)


BROKEN = {
    "unknown endpoint": (
        lambda g: _node(g, "clip").update(endpoint="image_to_hologram"),
        "graph.nodes[clip].endpoint: unknown endpoint 'image_to_hologram'",
    ),
    "bad field": (
        lambda g: _node(g, "first")["inputs"].update(ratio="3:2"),
        "graph.nodes[first].inputs.ratio",
    ),
    "unknown field fed by an edge": (
        lambda g: g["edges"][2].update(targetInput="caption"),
        "graph.nodes[clip].inputs.caption",
    ),
    "a cycle": (
        lambda g: g["edges"].append(
            {
                "source": "clip",
                "sourceOutput": "video",
                "target": "first",
                "targetInput": "referenceImages[0].uri",
            }
        ),
        "part of a cycle",
    ),
    "video where an image goes": (
        lambda g: (
            g["nodes"].append(
                {
                    "id": "movie",
                    "type": "input",
                    "outputs": {"v": {"type": "video", "uri": "https://x.test/a.mp4"}},
                }
            )
            or g["edges"].__setitem__(
                3,
                {
                    "source": "movie",
                    "sourceOutput": "v",
                    "target": "clip",
                    "targetInput": "promptImage[0].uri",
                },
            )
        ),
        "graph.nodes[clip].inputs.promptImage[0].uri: takes image, but movie.v is video",
    ),
    "unknown output": (
        lambda g: g["edges"][0].update(sourceOutput="words"),
        "graph.edges[0].sourceOutput: node 'prompt' has no output 'words'",
    ),
    "two edges into one field": (
        lambda g: g["edges"].append(dict(g["edges"][0])),
        "graph.edges[5].targetInput: another edge already sets first.promptText",
    ),
    "inputs only": (
        lambda g: g.update(nodes=g["nodes"][:1], edges=[]),
        "graph.nodes: a workflow needs at least one generation node",
    ),
    "duplicate id": (lambda g: _node(g, "last").update(id="first"), "graph.nodes[first].id"),
    "cross-field rule": (
        lambda g: _node(g, "clip")["inputs"].update(promptImage=[{"position": "last"}, {"position": "last"}]),
        "graph.nodes[clip].inputs.promptImage: each position",
    ),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_bad_graph_is_refused_naming_the_node_and_field(case: str) -> None:
    change, expected = BROKEN[case]
    with pytest.raises(GraphError) as error:
        parse(_broken(change))
    assert expected in str(error.value)


def test_run_values_are_checked_against_the_inputs_they_replace() -> None:
    graph = parse(PARTIAL).graph
    given = {
        "nope": {"x": {"type": "primitive", "value": 1}},
        "still": {"image": {"type": "image", "uri": "https://x.test/a.png"}},
        "photo": {"image": {"type": "video", "uri": "https://x.test/a.mp4"}, "other": {"type": "primitive"}},
    }
    values, problems = resolve_inputs(graph, given)
    found = {str(p) for p in problems}
    assert "nodeOutputs.nope: the workflow has no node 'nope'" in found
    assert any(p.startswith("nodeOutputs.still: 'still' is a generation node") for p in found)
    assert "nodeOutputs.photo.image.type: must be 'image', as the workflow declares" in found
    assert any(p.startswith("nodeOutputs.photo.other: node 'photo' has no output 'other'") for p in found)
    assert values["photo"]["image"]["uri"] == "https://unreachable.invalid/photo.png"


def _publish(server: Server, tmp_path: Path, definition: dict[str, Any], *options: str) -> str:
    out = server.cli("workflows", "add", str(write(tmp_path, definition)), *options)
    return out.split()[-1]


def test_a_workflow_runs_its_nodes_as_tasks_through_the_python_sdk(
    server: Server, client: RunwayML, tmp_path: Path
) -> None:
    workflow_id = _publish(server, tmp_path, KEYFRAMES)
    listed = {item.name: item for item in client.workflows.list().data}
    assert workflow_id in [version.id for version in listed["Keyframe teaser"].versions]
    shown = client.workflows.retrieve(workflow_id)
    assert (shown.name, shown.graph.version, len(shown.graph.nodes)) == ("Keyframe teaser", 1, 4)
    documented(WorkflowList, client.workflows.list())
    documented(WorkflowView, shown)

    before = balance(server)
    outputs: Any = {"prompt": {"text": {"type": "primitive", "value": "a red boat at sea"}}}
    retry = {"Idempotency-Key": f"run-{workflow_id}"}
    started = client.workflows.run(workflow_id, node_outputs=outputs, extra_headers=retry)
    again = client.workflows.run(workflow_id, node_outputs=outputs, extra_headers=retry)
    assert again.id == started.id  # a retry with the key: one run, charged once (below)
    documented(InvocationStarted, started, again)
    documented(InvocationView, client.workflow_invocations.retrieve(started.id))  # not done yet
    done = client.workflow_invocations.retrieve(started.id).wait_for_task_output(timeout=300)
    documented(InvocationView, done)
    assert done.status == "SUCCEEDED"
    assert done.node_errors is None
    assert done.cost is not None and done.cost.credits == KEYFRAMES_COST
    assert balance(server) == before - KEYFRAMES_COST
    assert set(done.output) == {"first", "last", "clip"}
    first = probe(httpx.get(done.output["first"][0], timeout=30).content)
    clip = probe(httpx.get(done.output["clip"][0], timeout=30).content)
    assert (first.kind, first.width, first.height) == ("png", 1024, 1024)
    assert (clip.width, clip.height, clip.frames) == (640, 640, 96)


def test_a_run_is_checked_before_anything_is_charged(
    server: Server, client: RunwayML, tmp_path: Path
) -> None:
    workflow_id = _publish(server, tmp_path, KEYFRAMES)
    bad_runs = {
        "nodeOutputs.prompt.text": {"prompt": {"text": {"type": "primitive", "value": 12}}},
        "nodeOutputs.clip": {"clip": {"video": {"type": "video", "uri": "https://x.test/v.mp4"}}},
    }
    before = balance(server)
    for field, outputs in bad_runs.items():
        with pytest.raises(runwayml.BadRequestError) as error:
            client.workflows.run(workflow_id, node_outputs=outputs)
        assert error.value.body is not None
        assert any(issue["message"].startswith(field) for issue in error.value.body["issues"])  # type: ignore[index]
    with pytest.raises(runwayml.NotFoundError):
        client.workflows.run("00000000-0000-0000-0000-000000000000")
    assert balance(server) == before


def test_a_run_succeeds_with_failed_nodes_listed(server: Server, client: RunwayML, tmp_path: Path) -> None:
    workflow_id = _publish(server, tmp_path, PARTIAL)
    done = client.workflow_invocations.retrieve(client.workflows.run(workflow_id).id).wait_for_task_output(
        timeout=300
    )
    assert done.status == "SUCCEEDED"
    assert set(done.output) == {"still"}
    assert done.node_errors is not None
    assert done.node_errors["move"].failure_code == "ASSET.INVALID"
    assert done.node_errors["move"].node_name == "Move"
    assert done.node_errors["grade"].failure_code is None  # never started: its input failed
    assert "Move" in done.node_errors["grade"].message
    assert done.cost is not None and done.cost.credits == 5  # the failed clip was refunded
    documented(InvocationView, done)

    # Without the still as a final node the same failure fails the run.
    only_clip = copy.deepcopy(PARTIAL)
    only_clip["name"] = "Only the clip"
    only_clip["graph"]["nodes"] = [n for n in only_clip["graph"]["nodes"] if n["id"] != "still"]
    failing_id = _publish(server, tmp_path, only_clip)
    with pytest.raises(WorkflowInvocationFailedError) as failed:
        client.workflow_invocations.retrieve(client.workflows.run(failing_id).id).wait_for_task_output(
            timeout=300
        )
    details = failed.value.invocation_details
    documented(InvocationView, details)
    assert details.status == "FAILED"
    assert details.failure_code == "ASSET.INVALID"
    assert "Move" in details.failure


def test_organizations_see_only_their_runs_and_workflows(
    server: Server, client: RunwayML, tmp_path: Path
) -> None:
    other = sdk(server, key=server.new_org("workflow-neighbour", "--credits", "10"))
    private = dict(STILL_AND_MOVE, name="Private teaser")
    private_id = _publish(server, tmp_path, private, "--org", "workflow-neighbour")
    shared_id = _publish(server, tmp_path, STILL_AND_MOVE)

    assert "Private teaser" not in [item.name for item in client.workflows.list().data]
    with pytest.raises(runwayml.NotFoundError):
        client.workflows.retrieve(private_id)
    assert other.workflows.retrieve(private_id).name == "Private teaser"

    started = client.workflows.run(shared_id)
    with pytest.raises(runwayml.NotFoundError):
        other.workflow_invocations.retrieve(started.id)
    # 10 credits cannot hold the run's estimate: refused before any node is charged.
    with pytest.raises(runwayml.BadRequestError, match="enough credits"):
        other.workflows.run(shared_id)
    client.workflow_invocations.retrieve(started.id).wait_for_task_output(timeout=300)


def _status(server: Server, invocation_id: str) -> dict[str, Any]:
    response = httpx.get(
        f"{server.base_url}/v1/workflow_invocations/{invocation_id}",
        headers={"Authorization": f"Bearer {server.key}", "X-Runway-Version": "2024-11-06"},
        timeout=30,
    )
    body: dict[str, Any] = response.json()
    return body


def _until(server: Server, invocation_id: str, done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        body = _status(server, invocation_id)
        if done(body):
            return body
        time.sleep(0.2)
    raise AssertionError(f"invocation never got there: {body}")


def test_a_run_survives_a_restart_and_a_bad_folder_stops_the_server(
    make_server: Callable[..., Server], tmp_path: Path
) -> None:
    folder = tmp_path / "workflows"
    write(folder, STILL_AND_MOVE)
    slow = json.dumps({"gen4_image": "support.engines:SlowImageEngine"})
    server = make_server(
        TAXIWAY_WORKFLOWS_DIR=str(folder),
        TAXIWAY_ENGINES=slow,
        TAXIWAY_TEST_ENGINE_SECONDS="2",
        TAXIWAY_TEST_ENGINE_LOG=str(tmp_path),
    )
    client = sdk(server)
    workflow_id = client.workflows.list().data[0].versions[0].id
    started = client.workflows.run(workflow_id)
    running = _until(server, started.id, lambda body: body["status"] == "RUNNING")
    assert running["output"] == {}
    server.kill()

    broken = copy.deepcopy(STILL_AND_MOVE)
    _node(broken["graph"], "move")["inputs"]["duration"] = 99
    write(folder, broken, "broken.json")
    with pytest.raises(RuntimeError, match=r"broken.json.*\n.*graph.nodes\[move\].inputs.duration"):
        server.start()
    (folder / "broken.json").unlink()
    server.start()
    done = _until(server, started.id, lambda body: body["status"] in ("SUCCEEDED", "FAILED"))
    assert done["status"] == "SUCCEEDED", done
    assert set(done["output"]) == {"still", "move"}
    assert done["cost"] == {"credits": STILL_AND_MOVE_COST}
