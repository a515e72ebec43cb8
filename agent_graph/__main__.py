"""``python -m agent_graph``: the same as the ``agent-graph`` command."""

from agent_graph.cli import main

main()
