"""``python -m agent_graph.provider``: serve the offline provider on loopback."""

from __future__ import annotations

import argparse
import sys

from agent_graph.provider._config import ProviderConfig
from agent_graph.provider._faults import SYNTAX, parse_faults
from agent_graph.provider._process import serve
from policies._errors import ConfigurationError


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and serve until interrupted; return the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m agent_graph.provider",
        description="Offline OpenAI-compatible provider with search, pages, CMS and faults.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    parser.add_argument("--port", type=int, default=8765, help="TCP port (default 8765)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per chat completion")
    parser.add_argument("--seed", type=int, default=0, help="varies every generated answer")
    parser.add_argument("--faults", default="", help=f"fault plan: {SYNTAX}")
    args = parser.parse_args(argv)
    try:
        config = ProviderConfig(
            seed=args.seed, latency=args.latency, faults=parse_faults(args.faults)
        )
        print(f"offline provider on http://{args.host}:{args.port}", file=sys.stderr, flush=True)
        serve(host=args.host, port=args.port, config=config)
    except ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
