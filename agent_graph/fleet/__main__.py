"""``python -m agent_graph.fleet``: the fleet commands alone (submit, worker, fleet)."""

import typer

from agent_graph.cli._fleet import register

app = typer.Typer(
    name="agent-graph-fleet",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
register(app)
app()
