"""Schemathesis over /openapi.json, with an API key and the version header: requests generated from
the published schema never get a 5xx, every answer is one the schema documents (status, content type,
body), and a request the schema calls valid is not refused for its content where the schema states
every rule. A few examples per operation keep it to seconds; `bench/attack.py` is the long run.

Schemathesis' pytest plugin does not run under this pytest, so its strategies are driven by hypothesis
directly. The requests come from an organization of its own without credits: a create is validated in
full, then refused for credits, so nothing generated runs engines on the shared server or touches other
tests' books. Voices, made and previewed without credits, are seconds of CPU each: they are left to
`bench/attack.py` and the voice tests.
"""

from __future__ import annotations

import re
from itertools import product
from typing import Any

import jsonschema_rs
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import CheckContext, not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from support.server import Server
from taxiway.assets.uploads import FILENAME_PATTERN, upload_kind
from taxiway.billing.ledger import INSUFFICIENT_CREDITS
from taxiway.catalog.index import ENDPOINTS
from taxiway.catalog.models import ModelSpec, OnlyWith, SchemaRule
from taxiway.catalog.recipes import RECIPES
from taxiway.catalog.video_models import PRORES_PROFILE_FITS_FORMAT, PRORES_PROFILE_NEEDS_HDR_PRORES
from taxiway.tasks import references

EXAMPLES = 2
CPU_WITHOUT_CREDITS = {("POST", "/v1/voices"), ("POST", "/v1/voices/preview")}
REFUSED_FOR_CREDITS = ("You do not have enough credits", INSUFFICIENT_CREDITS)
# Rules outside the catalog that no JSON Schema states; the server alone checks them (each a 400 naming
# the field). Any other schema-valid request refused for its content fails this test.
SERVER_ONLY = {
    ("GET", "/v1/avatars"): "a cursor must be one the API returned",
    ("GET", "/v1/documents"): "a cursor must be one the API returned",
    ("GET", "/v1/voices"): "a cursor must be one the API returned",
    ("GET", "/v1/avatar_conversations"): "a cursor must be one the API returned",
    ("GET", "/v1/avatar_usage"): "the end date must follow the start",
    ("POST", "/v1/organization/usage"): "the end date must follow the start",
    ("POST", "/v1/avatars"): "the reference image must decode",
    ("PATCH", "/v1/avatars/{avatar_id}"): "the reference image must decode",
    ("POST", "/v1/realtime_sessions"): "the avatar must exist; the room's URL must be public",
    ("GET", "/v1/routers"): "a cursor must be one the API returned",
    ("GET", "/v1/organization/webapp/usage"): "the end date must follow the start",
    ("GET", "/v1/organization/webapp/audit_logs"): "the end date must follow the start",
    ("POST", "/v1/generate/video"): "one image per frame role; a prompt, a frame or a source video",
}
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same requests every run: a failure here is reproducible
    database=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: the failing request is reported as sent
    suppress_health_check=list(HealthCheck),
)


def _server_checked(spec: ModelSpec) -> bool:
    """Media inputs (must decode), references (must exist), rules in code: more than a schema says."""
    return (
        bool(spec.assets)
        or references.needs_resolving(spec.endpoint)
        or any(not isinstance(check, SchemaRule) for check in spec.checks)
    )


def checked_beyond_the_schema() -> set[tuple[str, str]]:
    """Operations with a rule /openapi.json cannot state: a schema-valid request may be refused."""
    catalog = {e.path for e in ENDPOINTS.values() if any(_server_checked(m) for m in e.models)}
    recipes = {r.path for r in RECIPES.values() if _server_checked(r.spec)}
    return {("POST", path) for path in catalog | recipes} | set(SERVER_ONLY)


BEYOND_SCHEMA = checked_beyond_the_schema()


def valid_requests_are_served(ctx: CheckContext, response: Any, case: schemathesis.Case) -> None:
    """Where the schema states every rule, what it calls valid is not refused for its content."""
    if response.status_code not in (400, 422) or (case.method.upper(), case.operation.path) in BEYOND_SCHEMA:
        return
    if str(response.json().get("error", "")).startswith(REFUSED_FOR_CREDITS):
        return  # the organization's balance, not the request
    raise AssertionError(
        f"A request /openapi.json calls valid was refused: {response.text[:600]}\n"
        "State the rule in the schema, or list the operation in SERVER_ONLY with the reason."
    )


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    valid_requests_are_served,
]


def test_generated_requests_get_documented_answers_and_no_5xx(server: Server) -> None:
    key = server.new_org("schema-fuzz", "--credits", "0")
    headers = {"Authorization": f"Bearer {key}", "X-Runway-Version": "2024-11-06"}
    loaded = schemathesis.openapi.from_url(f"{server.base_url}/openapi.json")
    loaded.config.generation.update(allow_x00=False)  # NUL is refused everywhere, as /openapi.json says
    failures: list[str] = []
    operations = 0
    for result in loaded.get_all_operations():
        operation = result.ok()
        operations += 1
        if (operation.method.upper(), operation.path) in CPU_WITHOUT_CREDITS:
            continue

        @given(case=operation.as_strategy())
        @FUZZ
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(base_url=server.base_url, headers=headers, checks=CHECKS, timeout=120)

        try:
            check()
        except (Exception, FailureGroup) as failure:  # every operation is tried; all failures are told
            failures.append(f"{operation.method.upper()} {operation.path}: {failure}")
    assert operations >= 50  # every operation of the API is published
    assert not failures, "\n\n".join(failures)


def _ecma(pattern: str) -> re.Pattern[str]:
    """JSON Schema's `$` is the end of the text; Python's also matches before a final newline."""
    return re.compile(pattern.removesuffix("$") + r"\Z")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["a", ".", "/", "\\", "\n", " ", "png", "PnG", "mp3", "x.", "/."])))
def test_the_filename_pattern_is_the_upload_rule(parts: list[str]) -> None:
    name = "".join(parts)
    assert bool(_ecma(FILENAME_PATTERN).search(name)) == (upload_kind(name) is not None), name


@pytest.mark.parametrize("rule", [PRORES_PROFILE_FITS_FORMAT, PRORES_PROFILE_NEEDS_HDR_PRORES])
def test_a_stated_rule_refuses_what_its_check_refuses(rule: OnlyWith) -> None:
    validator = jsonschema_rs.Draft202012Validator(rule.json_schema())
    others = [*rule.choices, "mp4", None, ...]
    values = [*{v for allowed in rule.choices.values() for v in allowed or ("422",)}, "4444 XQ", None, ...]
    for other, value in product(others, values):
        body = {name: given for name, given in ((rule.other, other), (rule.field, value)) if given is not ...}
        assert validator.is_valid(body) == (rule(body) == []), body
