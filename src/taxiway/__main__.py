"""`python -m taxiway` runs the CLI."""

from taxiway.cli import app

app()
