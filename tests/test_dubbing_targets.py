"""Dubbing targets are known from what this machine has installed, now: a pair installed while the server
runs counts without a restart, and a target no pair reaches is refused naming what to install."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from taxiway.engines.audio import dubbing, translation


@pytest.fixture
def fake_apertium(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An `apertium` on PATH whose `-l` lists the modes written to a file, as installed pairs would."""
    modes = tmp_path / "modes.txt"
    modes.write_text("")
    binary = tmp_path / "apertium"
    binary.write_text(f'#!/bin/sh\n[ "$1" = -l ] && cat {modes}\n')
    binary.chmod(binary.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(translation, "REFRESH_SECONDS", 0.0)
    monkeypatch.setattr(translation, "_modes", None)
    return modes


def test_a_pair_installed_while_running_counts_without_a_restart(fake_apertium: Path) -> None:
    assert dubbing.available_targets() == ["en"]
    refusal = dubbing.target_refusal("es")
    assert refusal is not None and "apt-get install apertium apertium-eng-spa" in refusal
    fake_apertium.write_text("eng-spa\nspa-eng\n")
    assert dubbing.available_targets() == ["en", "es"]
    assert dubbing.target_refusal("es") is None
    # One pivot step: Spanish to French reaches French from English too.
    fake_apertium.write_text("eng-spa\nspa-eng\nes-fr\nfr-es\n")
    assert dubbing.available_targets() == ["en", "es", "fr"]


def test_targets_no_offline_voice_speaks_are_refused_with_what_is_available(fake_apertium: Path) -> None:
    fake_apertium.write_text("eng-spa\n")
    refusal = dubbing.target_refusal("ja")
    assert refusal is not None
    assert "no offline voice speaks 'ja'" in refusal and "dubs into en, es" in refusal
    assert dubbing.DubbingEngine.refusals({"targetLang": "ja"}) == [(["targetLang"], refusal)]
    assert dubbing.DubbingEngine.refusals({"targetLang": "en"}) == []


def test_the_listing_is_cached_between_refreshes(
    fake_apertium: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(translation, "REFRESH_SECONDS", 3600.0)
    assert dubbing.available_targets() == ["en"]
    fake_apertium.write_text("eng-spa\n")
    assert dubbing.available_targets() == ["en"]  # not listed again within the refresh interval
