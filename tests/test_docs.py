"""The README's model table is generated from the catalog and must match it."""

from __future__ import annotations

from pathlib import Path

from taxiway.catalog.docs import model_table

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_model_table_is_current() -> None:
    text = README.read_text()
    assert model_table() in text, "run `python -m taxiway.catalog.docs` to refresh README.md"


def test_readme_starts_with_the_two_commands() -> None:
    head = README.read_text().split("## ", 1)[0]
    assert "make run" in head and "make test" in head
