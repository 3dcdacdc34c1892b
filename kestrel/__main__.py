"""`python -m kestrel` is the `kestrel` command."""

from kestrel.cli import app

app(prog_name="kestrel")
