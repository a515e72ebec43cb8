"""``agent-graph studio``: run ``langgraph dev`` on our graphs and our Postgres."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from agent_graph._errors import ConfigurationError

#: The repository root, where ``langgraph.json`` lives (an editable install runs from there).
PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONFIG_FILE = PROJECT_ROOT / "langgraph.json"

_STUDIO = "https://smith.langchain.com/studio/?baseUrl={api}"


def studio_urls(port: int, host: str = "127.0.0.1") -> tuple[str, str]:
    """The local API address and the Studio URL that opens it."""
    api = f"http://{host}:{port}"
    return api, _STUDIO.format(api=api)


def studio_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment ``langgraph dev`` runs in: ours, minus analytics and tracing."""
    env = dict(os.environ if base is None else base)
    env["LANGGRAPH_CLI_NO_ANALYTICS"] = "1"
    env.setdefault("LANGSMITH_TRACING", "false")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    return env


def studio_args(port: int, *, host: str = "127.0.0.1", reload: bool = True) -> list[str]:
    """The ``langgraph dev`` command line (run with this interpreter)."""
    args = [sys.executable, "-m", "langgraph_cli", "dev", "--config", str(CONFIG_FILE)]
    args += ["--port", str(port), "--host", host, "--no-browser"]
    if not reload:
        args.append("--no-reload")
    return args


def studio_command(port: int = 2024, *, host: str = "127.0.0.1", reload: bool = True) -> int:
    """Serve the content agent and the example graph with ``langgraph dev`` until interrupted.

    Prints the local API address and the LangGraph Studio URL first. Works offline: no LangSmith
    key is needed, analytics are off, and one offline provider is started for the server's
    lifetime unless ``OPENAI_API_KEY`` and ``AGENT_GRAPH_SERVICES_URL`` are set.

    Args:
        port: the port to listen on.
        host: the interface to listen on (loopback by default).
        reload: restart the server when a source file changes.

    Returns:
        The exit code of ``langgraph dev`` (0 after Ctrl-C).

    Raises:
        ConfigurationError: ``langgraph.json`` is missing (the package is not run from its
            repository).
        ProviderError: the offline provider does not start.
    """
    if not CONFIG_FILE.is_file():
        raise ConfigurationError(
            f"no langgraph.json at {CONFIG_FILE}",
            hint="install the package in editable mode from its repository (pip install -e .)",
        )
    env = studio_env()
    with contextlib.ExitStack() as stack:
        if not (env.get("OPENAI_API_KEY") and env.get("AGENT_GRAPH_SERVICES_URL")):
            from agent_graph.provider import BackgroundProvider

            provider = stack.enter_context(BackgroundProvider())
            env.update(provider_env(provider.base_url, env))
        api, studio = studio_urls(port, host)
        print(f"API:    {api}", flush=True)
        print(f"Studio: {studio}", flush=True)
        process = subprocess.Popen(
            studio_args(port, host=host, reload=reload),
            cwd=PROJECT_ROOT,
            env=env,
            start_new_session=True,  # so that stopping it also stops its reloader's children
        )
        previous = signal.signal(signal.SIGTERM, _interrupt)
        try:
            return process.wait()
        except KeyboardInterrupt:
            return 0
        finally:
            stop_process_group(process)
            signal.signal(signal.SIGTERM, previous)


def _interrupt(signum: int, frame: object) -> None:
    # SIGTERM stops the server like Ctrl-C does, instead of orphaning it.
    raise KeyboardInterrupt


def provider_env(provider_url: str, env: Mapping[str, str]) -> dict[str, str]:
    """Variables pointing whatever ``env`` does not configure at the offline provider."""
    extra: dict[str, str] = {}
    if not env.get("OPENAI_API_KEY"):
        extra["OPENAI_API_KEY"] = "offline"
        extra["OPENAI_BASE_URL"] = f"{provider_url}/v1"
    if not env.get("AGENT_GRAPH_SERVICES_URL"):
        extra["AGENT_GRAPH_SERVICES_URL"] = provider_url
    return extra


def stop_process_group(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """Stop the process group ``process`` leads: SIGTERM, then SIGKILL whatever is left.

    Args:
        process: a process started with ``start_new_session=True``.
        timeout: seconds the leader gets to exit after SIGTERM.
    """
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=timeout)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # stragglers, e.g. the reloader's children
    process.wait()
