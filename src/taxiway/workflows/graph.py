"""Workflow graphs as operators write them, and their validation against the model catalog.

A graph has two kinds of node. An `input` node holds named, typed values (`{"type": "primitive",
"value": ...}` or `{"type": "image" | "video" | "audio", "uri": ...}`), the values a run's
`nodeOutputs` may replace. A `generation` node calls one catalog endpoint with fixed `inputs` (a
request body, `model` included); each edge sets one field of a generation node's request
(`targetInput`, a path such as `promptText`, `promptImage` or `referenceImages[0].uri`) from an input
node's value or from another generation node's output (`sourceOutput` is its kind: `image`, `video`
or `audio`). The graph must be acyclic, and every generation node's request, with the edges' values
in place, must be one its endpoint accepts: a graph that is not is refused with problems that name
the node and the field.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from taxiway.catalog import ENDPOINTS, ModelSpec, model_spec
from taxiway.catalog.schemas import request_adapter

GRAPH_VERSION = 1
MEDIA_KINDS = ("image", "video", "audio")
NODE_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
KEY = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
# The URI a media edge is checked with before its real value exists (a generation node's output).
PLACEHOLDER_URI = "https://workflow.invalid/placeholder"
Path = tuple[str | int, ...]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=False, frozen=True)


class PrimitiveValue(_Model):
    type: Literal["primitive"]
    value: str | int | float | bool


class MediaValue(_Model):
    """A media value; without `uri` the input is required: every run must give it in `nodeOutputs`."""

    type: Literal["image", "video", "audio"]
    uri: Annotated[str, Field(min_length=1)] | None = None


Value = Annotated[PrimitiveValue | MediaValue, Field(discriminator="type")]


class InputNode(_Model):
    id: Annotated[str, Field(pattern=NODE_ID)]
    type: Literal["input"]
    name: str | None = None
    outputs: Annotated[dict[Annotated[str, Field(pattern=KEY)], Value], Field(min_length=1)]


class GenerationNode(_Model):
    id: Annotated[str, Field(pattern=NODE_ID)]
    type: Literal["generation"]
    name: str | None = None
    endpoint: str
    inputs: dict[str, Any] = Field(default_factory=dict)


Node = Annotated[InputNode | GenerationNode, Field(discriminator="type")]


class Edge(_Model):
    source: str
    source_output: str
    target: str
    target_input: str


class Graph(_Model):
    version: Literal[1]
    nodes: Annotated[list[Node], Field(min_length=1, max_length=100)]
    edges: list[Edge] = Field(default_factory=list)

    def node(self, node_id: str) -> InputNode | GenerationNode:
        return next(node for node in self.nodes if node.id == node_id)

    @property
    def generation_nodes(self) -> list[GenerationNode]:
        return [node for node in self.nodes if isinstance(node, GenerationNode)]

    def edges_into(self, node_id: str) -> list[Edge]:
        return [edge for edge in self.edges if edge.target == node_id]

    def upstream(self, node_id: str) -> list[str]:
        """Generation nodes whose output this node takes, in edge order, each once."""
        sources = [e.source for e in self.edges_into(node_id)]
        return [s for s in dict.fromkeys(sources) if isinstance(self.node(s), GenerationNode)]

    def in_order(self) -> list[GenerationNode]:
        """Generation nodes, each after every node it takes from (the graph is acyclic)."""
        done: list[str] = []
        pending = [node.id for node in self.generation_nodes]
        while pending:
            ready = [n for n in pending if all(u in done for u in self.upstream(n))]
            done.extend(ready)
            pending = [n for n in pending if n not in ready]
            if not ready:
                raise ValueError("the graph has a cycle")
        return [node for node_id in done if isinstance(node := self.node(node_id), GenerationNode)]

    def sinks(self) -> list[GenerationNode]:
        """Generation nodes no other generation node takes from: the results a run is for."""
        fed = {e.source for e in self.edges if isinstance(self.node(e.target), GenerationNode)}
        return [node for node in self.generation_nodes if node.id not in fed]

    def dump(self) -> dict[str, Any]:
        dumped: dict[str, Any] = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        return dumped


class Definition(_Model):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    description: str | None = None
    graph: Graph


@dataclass(frozen=True)
class Problem:
    path: Path
    message: str

    @property
    def where(self) -> str:
        text = ""
        for part in self.path:
            text += f"[{part}]" if isinstance(part, int) or text.endswith(".nodes") else f".{part}"
        return text.lstrip(".").replace(".[", "[")

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class GraphError(ValueError):
    def __init__(self, problems: list[Problem], source: str = "") -> None:
        self.problems = problems
        where = f" in {source}" if source else ""
        super().__init__(f"invalid workflow{where}:\n" + "\n".join(f"  {p}" for p in problems))


def output_kind(node: GenerationNode) -> str:
    """The one output key of a generation node: its endpoint's output kind."""
    return ENDPOINTS[node.endpoint].output.value


_STEP = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)((?:\[[0-9]+\])*)")


def parse_path(text: str) -> list[str | int] | None:
    """`referenceImages[0].uri` -> ["referenceImages", 0, "uri"]; None when malformed."""
    steps: list[str | int] = []
    for part in text.split("."):
        match = _STEP.fullmatch(part)
        if match is None:
            return None
        steps.append(match[1])
        steps.extend(int(index) for index in re.findall(r"\[([0-9]+)\]", match[2]))
    return steps


def set_path(body: dict[str, Any], steps: list[str | int], value: Any) -> None:
    """Place `value` at `steps`, creating objects and list slots on the way."""
    node: Any = body
    for step, following in zip(steps, [*steps[1:], None], strict=True):
        last = following is None
        empty: Any = [] if isinstance(following, int) else {}
        if isinstance(step, int):
            if not isinstance(node, list):
                raise ValueError("not a list")
            while len(node) <= step:
                node.append(None)
            if last:
                node[step] = value
            elif node[step] is None:
                node[step] = empty
            node = node[step]
        else:
            if not isinstance(node, dict):
                raise ValueError("not an object")
            if last:
                node[step] = value
            else:
                node = node.setdefault(step, empty)


def _rule_path(steps: list[str | int]) -> str:
    """The catalog's spelling of a concrete path: list indexes become `[]`."""
    text = ""
    for step in steps:
        text += "[]" if isinstance(step, int) else ("." if text else "") + step
    return text


def _get(body: Any, steps: list[str | int]) -> Any:
    for step in steps:
        if isinstance(step, int):
            body = body[step] if isinstance(body, list) and step < len(body) else None
        else:
            body = body.get(step) if isinstance(body, dict) else None
    return body


def node_request(node: GenerationNode, graph: Graph, value_of: Callable[[Edge], Any]) -> dict[str, Any]:
    """The node's request body: its fixed inputs with each incoming edge's value in place."""
    body = copy.deepcopy(node.inputs)
    for edge in graph.edges_into(node.id):
        steps = parse_path(edge.target_input)
        if steps is not None:
            set_path(body, steps, value_of(edge))
    return body


def pydantic_problems(error: ValidationError, prefix: Path, tag: object = None) -> Iterator[Problem]:
    for item in error.errors():
        loc = list(item["loc"])
        if loc and tag is not None and loc[0] == tag:
            loc = loc[1:]
        yield Problem((*prefix, *loc), str(item["msg"]).removeprefix("Value error, "))


@dataclass(frozen=True)
class Checked:
    """A node's request as its endpoint judged it: the spec and stored params when it passed."""

    spec: ModelSpec | None
    params: dict[str, Any]
    problems: list[Problem]


def check_request(endpoint: str, body: Mapping[str, Any], prefix: Path) -> Checked:
    """Validate a node's request as the endpoint would (strict JSON)."""
    try:
        parsed = request_adapter(endpoint).validate_json(json.dumps(body), strict=True)
    except ValidationError as exc:
        return Checked(None, {}, list(pydantic_problems(exc, prefix, body.get("model"))))
    params: dict[str, Any] = parsed.model_dump(mode="json", by_alias=True, exclude_none=True)
    spec = model_spec(endpoint, params["model"])
    problems = [Problem((*prefix, *path), message) for path, message in spec.violations(params)]
    return Checked(spec, params, problems)


def source_kind(graph: Graph, edge: Edge) -> str:
    """`primitive` or the media kind that flows along an edge."""
    source = graph.node(edge.source)
    if isinstance(source, GenerationNode):
        return output_kind(source)
    return source.outputs[edge.source_output].type


def _media_target(
    spec: ModelSpec, node: GenerationNode, body: Mapping[str, Any], steps: list[str | int]
) -> str | None:
    """The kind of media the catalog expects at `steps`, or None where it is not a media field."""
    path = _rule_path(steps)
    for rule in spec.assets:
        if rule.path == path:
            if rule.kind is not None:
                return rule.kind.value
            sibling = _get(body, [*steps[:-1], "type"])
            return str(sibling) if sibling in MEDIA_KINDS else None
    return None


def validate(definition: Definition) -> None:
    """GraphError listing every problem; a graph that passes can be run."""
    graph = definition.graph
    problems: list[Problem] = []
    ids = [node.id for node in graph.nodes]
    for index, node_id in enumerate(ids):
        if ids.index(node_id) != index:
            problems.append(Problem(("graph", "nodes", node_id, "id"), "another node has this id"))
    known = set(ids)
    if not graph.generation_nodes:
        problems.append(Problem(("graph", "nodes"), "a workflow needs at least one generation node"))
    for node in graph.generation_nodes:
        if node.endpoint not in ENDPOINTS:
            problems.append(
                Problem(
                    ("graph", "nodes", node.id, "endpoint"),
                    f"unknown endpoint {node.endpoint!r}; one of: {', '.join(sorted(ENDPOINTS))}",
                )
            )
    problems.extend(_edge_problems(graph, known))
    if problems:
        raise GraphError(problems)
    cycle = _cycle(graph)
    if cycle:
        raise GraphError([Problem(("graph", "nodes", cycle, "edges"), "this node is part of a cycle")])
    for node in graph.generation_nodes:
        problems.extend(_node_problems(graph, node))
    if problems:
        raise GraphError(problems)


def _edge_problems(graph: Graph, known: set[str]) -> Iterator[Problem]:
    targets: set[tuple[str, str]] = set()
    for index, edge in enumerate(graph.edges):
        where = ("graph", "edges", index)
        if edge.source not in known:
            yield Problem((*where, "source"), f"no node has the id {edge.source!r}")
            continue
        if edge.target not in known:
            yield Problem((*where, "target"), f"no node has the id {edge.target!r}")
            continue
        source, target = graph.node(edge.source), graph.node(edge.target)
        if isinstance(source, GenerationNode) and source.endpoint not in ENDPOINTS:
            continue
        outputs = [output_kind(source)] if isinstance(source, GenerationNode) else list(source.outputs)
        if edge.source_output not in outputs:
            listed = ", ".join(outputs)
            yield Problem(
                (*where, "sourceOutput"),
                f"node {edge.source!r} has no output {edge.source_output!r}; its outputs: {listed}",
            )
        if not isinstance(target, GenerationNode):
            yield Problem(
                (*where, "target"), f"node {edge.target!r} is an input node; edges lead into generation nodes"
            )
        elif parse_path(edge.target_input) is None:
            yield Problem(
                (*where, "targetInput"),
                f"{edge.target_input!r} is not a field path like `referenceImages[0].uri`",
            )
        elif (edge.target, edge.target_input) in targets:
            yield Problem(
                (*where, "targetInput"), f"another edge already sets {edge.target}.{edge.target_input}"
            )
        targets.add((edge.target, edge.target_input))


def _cycle(graph: Graph) -> str | None:
    """A node on a cycle, or None for an acyclic graph (Kahn's algorithm)."""
    incoming = {node.id: 0 for node in graph.nodes}
    for edge in graph.edges:
        incoming[edge.target] += 1
    ready = [node_id for node_id, count in incoming.items() if count == 0]
    while ready:
        current = ready.pop()
        for edge in graph.edges:
            if edge.source == current:
                incoming[edge.target] -= 1
                if incoming[edge.target] == 0:
                    ready.append(edge.target)
    return next((node_id for node_id, count in incoming.items() if count > 0), None)


def default_value(graph: Graph, edge: Edge) -> Any:
    """What an edge carries when checking a definition: an input's default, else a placeholder URI."""
    source = graph.node(edge.source)
    if isinstance(source, InputNode):
        value = source.outputs[edge.source_output]
        if isinstance(value, PrimitiveValue):
            return value.value
        return value.uri or PLACEHOLDER_URI
    return PLACEHOLDER_URI


def _node_problems(graph: Graph, node: GenerationNode) -> list[Problem]:
    prefix: Path = ("graph", "nodes", node.id, "inputs")
    body = node_request(node, graph, lambda edge: default_value(graph, edge))
    checked = check_request(node.endpoint, body, prefix)
    spec, problems = checked.spec, checked.problems
    if spec is None:
        return problems
    for edge in graph.edges_into(node.id):
        steps = parse_path(edge.target_input) or []
        kind = source_kind(graph, edge)
        expected = _media_target(spec, node, body, steps)
        if kind == "primitive" or kind == expected:
            continue
        if expected is None:
            media = ", ".join(rule.path for rule in spec.assets) or "none"
            message = f"not a media input of {spec.id} on {spec.endpoint} (its media inputs: {media})"
        else:
            message = f"takes {expected}, but {edge.source}.{edge.source_output} is {kind}"
        problems.append(Problem((*prefix, *steps), message))
    return problems


def parse(data: Any) -> Definition:
    """A definition from its JSON form, validated; GraphError otherwise."""
    try:
        definition = Definition.model_validate(data)
    except ValidationError as exc:
        raise GraphError(list(pydantic_problems(exc, ()))) from None
    validate(definition)
    return definition
