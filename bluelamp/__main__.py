"""``python -m bluelamp`` runs the CLI."""

from bluelamp.cli import app

app()
