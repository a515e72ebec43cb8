"""Running the provider: in the foreground (:func:`serve`) or as a child process for tests."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

import httpx

from agent_graph.provider._app import create_app
from agent_graph.provider._config import ProviderConfig
from agent_graph.provider._faults import FaultPlan, parse_faults
from policies._errors import ConfigurationError, DurableAgentError

logger = logging.getLogger(__name__)

_POLL_INTERVAL = 0.05
_REPO_ROOT = Path(__file__).absolute().parents[2]


class ProviderError(DurableAgentError):
    """The offline provider could not be started or reached."""

    default_hint = "start it with `python -m agent_graph.provider --port PORT` and check its output"


def _check_host(host: str) -> None:
    if host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ConfigurationError(
            f"the offline provider only listens on loopback, not on {host!r}",
            hint="use --host 127.0.0.1 (or ::1 / localhost)",
        )


def serve(*, host: str = "127.0.0.1", port: int, config: ProviderConfig) -> None:
    """Serve the provider until interrupted (blocking).

    Args:
        host: a loopback address.
        port: TCP port (0 picks a free one, which is then hard to find: prefer an explicit port).
        config: seed, latency and faults.

    Raises:
        ConfigurationError: if ``host`` is not a loopback address or ``port`` is out of range.
    """
    import uvicorn

    _check_host(host)
    if not 0 <= port <= 65535:
        raise ConfigurationError(f"port {port} is out of range", hint="use a port in 1..65535")
    server_config = uvicorn.Config(
        create_app(config),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=1,
    )
    logger.info("offline provider starting", extra={"host": host, "port": port})
    uvicorn.Server(server_config).run()


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _base(base_url: str) -> str:
    base = base_url.rstrip("/")
    return base[:-3] if base.endswith("/v1") else base


def _call(method: str, base_url: str, path: str, json: Any = None) -> Any:
    url = f"{_base(base_url)}{path}"
    try:
        response = httpx.request(method, url, json=json, timeout=5.0)
    except httpx.HTTPError as exc:
        raise ProviderError(f"cannot reach the offline provider at {url}: {exc}") from exc
    if response.status_code == 400 and path == "/_faults":
        message = response.json().get("error", {}).get("message", response.text)
        raise ConfigurationError(message)
    if response.status_code != 200:
        raise ProviderError(f"{method} {url} answered {response.status_code}: {response.text}")
    return response.json()


def fetch_stats(base_url: str) -> dict[str, Any]:
    """Return the provider's ``/_stats`` document.

    Args:
        base_url: the provider's base URL, with or without a trailing ``/v1``.

    Raises:
        ProviderError: if the provider cannot be reached or answers with an error.
    """
    stats: dict[str, Any] = _call("GET", base_url, "/_stats")
    return stats


class BackgroundProvider:
    """Run the provider as a child process (``python -m agent_graph.provider``) on a free port.

    Use as a context manager, sync (``with``) or async (``async with``)::

        with BackgroundProvider(faults="chat:rate_limit@1") as provider:
            client = OpenAI(base_url=provider.openai_base_url, api_key="offline")

    Args:
        config: full settings; or give ``seed``, ``latency`` and ``faults`` instead.
        seed: see :class:`ProviderConfig`.
        latency: see :class:`ProviderConfig`.
        faults: a fault spec or plan (see :func:`parse_faults`).
        port: the port to listen on; a free one by default.
        startup_timeout: seconds to wait for ``/_health`` to answer.

    Raises:
        ConfigurationError: for a malformed fault spec or both ``config`` and individual settings.
    """

    def __init__(
        self,
        config: ProviderConfig | None = None,
        *,
        seed: int | None = None,
        latency: float | None = None,
        faults: str | FaultPlan | None = None,
        port: int | None = None,
        startup_timeout: float = 30.0,
    ) -> None:
        if config is not None and (seed, latency, faults) != (None, None, None):
            raise ConfigurationError(
                "pass either config or seed/latency/faults to BackgroundProvider, not both",
                hint="put every setting in the ProviderConfig",
            )
        if config is None:
            plan = parse_faults(faults) if isinstance(faults, str) else faults or FaultPlan()
            config = ProviderConfig(seed=seed or 0, latency=latency or 0.0, faults=plan)
        self.config = config
        self._port = port
        self._startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._base_url: str | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` of the running provider."""
        if self._base_url is None:
            raise ProviderError("the background provider is not running", hint="call start()")
        return self._base_url

    @property
    def openai_base_url(self) -> str:
        """The base URL to give an OpenAI client: ``base_url + "/v1"``."""
        return f"{self.base_url}/v1"

    @property
    def pid(self) -> int:
        """Process id of the provider."""
        if self._process is None:
            raise ProviderError("the background provider is not running", hint="call start()")
        return self._process.pid

    def start(self) -> Self:
        """Start the process and wait until ``/_health`` answers.

        Raises:
            ProviderError: if the process exits or does not answer within ``startup_timeout``.
        """
        if self._process is not None:
            return self
        port = self._port or free_port()
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        command = [sys.executable, "-m", "agent_graph.provider", "--port", str(port)]
        command += ["--seed", str(self.config.seed), "--latency", repr(self.config.latency)]
        if self.config.faults:
            command.append(f"--faults={self.config.faults.spec}")
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_REPO_ROOT), env.get("PYTHONPATH")]))
        # cwd and PYTHONPATH make the child import this very copy of the package.
        self._process = subprocess.Popen(
            command,
            cwd=_REPO_ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )
        base_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + self._startup_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                output = self._output()
                self.stop()
                raise ProviderError(f"the offline provider exited at startup: {output}")
            try:
                health = httpx.get(f"{base_url}/_health", timeout=0.5)
                if health.headers.get("x-provider-pid") == str(self._process.pid):
                    self._base_url = base_url
                    logger.info("background provider ready", extra={"port": port})
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(_POLL_INTERVAL)
        output = self._output()
        self.stop()
        raise ProviderError(
            f"the offline provider did not answer within {self._startup_timeout}s: {output}"
        )

    def _output(self) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read()[-2000:].decode("utf-8", "replace").strip()

    def stop(self) -> None:
        """Terminate the process and wait for it (kill it after 5 s)."""
        process, self._process, self._base_url = self._process, None, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def stats(self) -> dict[str, Any]:
        """Return ``/_stats`` (see :func:`fetch_stats`)."""
        return fetch_stats(self.base_url)

    def reset(self) -> None:
        """Clear counters and CMS state (``POST /_reset``); the fault plan stays."""
        _call("POST", self.base_url, "/_reset")

    def set_faults(self, spec: str | FaultPlan) -> None:
        """Replace the fault plan (``PUT /_faults``); ``""`` removes every fault.

        Raises:
            ConfigurationError: if ``spec`` is malformed.
        """
        plan = parse_faults(spec) if isinstance(spec, str) else spec
        _call("PUT", self.base_url, "/_faults", {"spec": plan.spec})

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)
