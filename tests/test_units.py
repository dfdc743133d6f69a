"""Unit tests: the state machine, URL signatures, key handling, prices and error translation."""

from __future__ import annotations

import itertools
import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from starlette.requests import Request

from taxiway.accounts.keys import KEY_PATTERN, display_prefix, generate_key, hash_key, is_well_formed
from taxiway.api.errors import body_issues
from taxiway.api.generation import read_json_object
from taxiway.catalog import CATALOG, ENDPOINTS, model_spec
from taxiway.catalog.fields import utf16_length
from taxiway.catalog.schemas import request_adapter
from taxiway.clock import iso_millis
from taxiway.status import TaskStatus
from taxiway.storage.signing import UrlSigner
from taxiway.tasks.state import (
    TERMINAL,
    TRANSITIONS,
    IllegalTransition,
    can_move,
    check_move,
    refundable,
    sources_for,
)


class TestStateMachine:
    def test_terminal_statuses_are_final(self) -> None:
        for terminal, target in itertools.product(TERMINAL, TaskStatus):
            assert not can_move(terminal, target)

    def test_lifecycle_paths(self) -> None:
        path = [TaskStatus.THROTTLED, TaskStatus.PENDING, TaskStatus.RUNNING, TaskStatus.SUCCEEDED]
        for source, target in itertools.pairwise(path):
            check_move(source, target)
        check_move(TaskStatus.RUNNING, TaskStatus.PENDING)  # requeued after a crash
        with pytest.raises(IllegalTransition):
            check_move(TaskStatus.THROTTLED, TaskStatus.RUNNING)
        with pytest.raises(IllegalTransition):
            check_move(TaskStatus.SUCCEEDED, TaskStatus.CANCELLED)

    def test_every_non_terminal_status_can_be_cancelled(self) -> None:
        assert sources_for(TaskStatus.CANCELLED) == {
            TaskStatus.PENDING,
            TaskStatus.THROTTLED,
            TaskStatus.RUNNING,
        }

    def test_sources_match_transitions(self) -> None:
        for target in TaskStatus:
            for source in TaskStatus:
                assert (source in sources_for(target)) == (target in TRANSITIONS[source])

    @pytest.mark.parametrize(
        ("code", "refund"),
        [
            ("SAFETY.INPUT.TEXT", False),
            ("SAFETY.INPUT.IMAGE", False),
            ("INPUT_PREPROCESSING.SAFETY.TEXT", False),
            ("SAFETY.OUTPUT.VIDEO", True),
            ("INTERNAL", True),
            ("ASSET.INVALID", True),
            (None, True),
        ],
    )
    def test_refund_rule(self, code: str | None, refund: bool) -> None:
        assert refundable(code) is refund


class TestSigning:
    signer = UrlSigner(b"s" * 32)

    def test_valid_signature_verifies(self) -> None:
        sig = self.signer.signature("tasks/a/output.png", 2_000)
        assert self.signer.verify("tasks/a/output.png", 2_000, sig, now=1_000)

    def test_expired_is_refused(self) -> None:
        sig = self.signer.signature("k", 2_000)
        assert not self.signer.verify("k", 2_000, sig, now=2_000)

    def test_tampering_is_refused(self) -> None:
        sig = self.signer.signature("k", 2_000)
        assert not self.signer.verify("k2", 2_000, sig, now=0)
        assert not self.signer.verify("k", 2_001, sig, now=0)
        assert not UrlSigner(b"t" * 32).verify("k", 2_000, sig, now=0)

    def test_short_secret_rejected(self) -> None:
        with pytest.raises(ValueError):
            UrlSigner(b"short")

    @given(st.text(min_size=1, max_size=50), st.integers(min_value=1, max_value=2**40))
    def test_path_roundtrip(self, key: str, expires: int) -> None:
        path = self.signer.path(key, expires)
        assert path.startswith("/outputs/")
        assert f"exp={expires}" in path


class TestKeys:
    def test_generated_keys_have_the_real_format(self) -> None:
        key = generate_key()
        assert KEY_PATTERN.fullmatch(key)
        assert len(key) == 4 + 128
        assert is_well_formed(key)
        assert generate_key() != key

    def test_hash_is_stable_and_hides_the_key(self) -> None:
        key = generate_key()
        assert hash_key(key) == hash_key(key)
        assert key[4:] not in hash_key(key)
        assert len(hash_key(key)) == 64

    def test_prefix(self) -> None:
        assert display_prefix("key_" + "ab" * 64) == "key_abababab"

    @pytest.mark.parametrize("bad", ["", "key_", "key_" + "A" * 128, "kez_" + "a" * 128, "key_" + "a" * 127])
    def test_malformed_keys(self, bad: str) -> None:
        assert not is_well_formed(bad)


class TestCatalog:
    def test_gen4_image_prices_by_resolution(self) -> None:
        spec = model_spec("text_to_image", "gen4_image")
        assert spec.estimated_credits({"ratio": "1920:1080"}) == 8
        assert spec.estimated_credits({"ratio": "1280:720"}) == 5
        assert all(spec.estimated_credits({"ratio": r}) in (5, 8) for r in spec.ratios)

    def test_flat_prices(self) -> None:
        assert model_spec("text_to_image", "gen4_image_turbo").estimated_credits({"ratio": "1024:1024"}) == 2
        assert model_spec("text_to_image", "gemini_2.5_flash").estimated_credits({"ratio": "1024:1024"}) == 5

    def test_every_model_belongs_to_its_endpoint(self) -> None:
        for (endpoint, model_id), spec in CATALOG.items():
            assert spec.endpoint == endpoint and spec.id == model_id
            assert spec in ENDPOINTS[endpoint].models

    def test_ratios_parse(self) -> None:
        """Every ratio names pixels ("1280:720"), an aspect ("16:9") or a size the model picks ("auto")."""
        choices = {"auto", "auto_1k", "auto_2k", "auto_480p", "auto_720p", "auto_1080p", "adaptive"}
        for spec in CATALOG.values():
            for ratio in spec.ratios:
                width, _, height = ratio.partition(":")
                assert ratio in choices or (int(width) > 0 and int(height) > 0), (spec.id, ratio)
            assert all(width > 0 and height > 0 for width, height in spec.pixel_sizes)

    def test_utf16_units(self) -> None:
        assert utf16_length("abc") == 3
        assert utf16_length("é") == 1
        assert utf16_length("😀") == 2


class TestErrors:
    def test_issue_paths_drop_the_union_tag(self) -> None:
        errors = [{"type": "missing", "loc": ("gen4_image", "promptText"), "msg": "Field required"}]
        issues = body_issues(errors, {"model": "gen4_image"})
        assert issues[0]["path"] == ["promptText"]
        assert issues[0]["code"] == "invalid_type"
        assert "promptText" in issues[0]["message"]

    def test_extra_key_reported_on_parent(self) -> None:
        errors = [{"type": "extra_forbidden", "loc": ("gen4_image", "foo"), "msg": "Extra", "input": 1}]
        issue = body_issues(errors, {"model": "gen4_image"})[0]
        assert issue == {
            "code": "unrecognized_keys",
            "keys": ["foo"],
            "path": [],
            "message": 'body: Unrecognized key: "foo"',
        }

    def test_missing_discriminator_lists_models(self) -> None:
        errors = [
            {"type": "union_tag_not_found", "loc": (), "msg": "no tag", "ctx": {"discriminator": "'model'"}}
        ]
        issues = body_issues(errors, {}, tags=["a", "b"])
        assert [i["code"] for i in issues] == ["invalid_type", "invalid_union"]
        assert "'a'|'b'" in issues[1]["message"]

    async def test_a_whole_number_written_with_a_point_is_an_integer(self) -> None:
        """JSON has one number type: `7.0` is the seed 7, as the real API reads it; `7.5` is refused."""

        async def read(body: bytes) -> tuple[bytes, dict[str, object]]:
            async def receive() -> dict[str, object]:
                return {"type": "http.request", "body": body, "more_body": False}

            return await read_json_object(Request({"type": "http", "method": "POST", "headers": []}, receive))

        base = {"model": "gen4_image", "promptText": "x", "ratio": "1920:1080"}
        raw, data = await read(json.dumps({**base, "seed": 7.0, "n": [1e400, -0.0, 2.5]}).encode())
        assert data["seed"] == 7 and isinstance(data["seed"], int)
        assert data["n"] == [math.inf, 0, 2.5]
        raw, data = await read(json.dumps({**base, "seed": 7.0}).encode())
        assert request_adapter("text_to_image").validate_json(raw, strict=True).seed == 7
        raw, data = await read(json.dumps({**base, "seed": 7.5}).encode())
        with pytest.raises(ValidationError) as info:
            request_adapter("text_to_image").validate_json(raw, strict=True)
        (issue,) = body_issues(info.value.errors(), data)
        assert issue["path"] == ["seed"]
        assert issue["message"] == "seed: Invalid input: expected int, received number"


def test_iso_millis() -> None:
    from datetime import UTC, datetime

    assert iso_millis(datetime(2026, 8, 26, 6, 30, 33, 796_123, tzinfo=UTC)) == "2026-08-26T06:30:33.796Z"
