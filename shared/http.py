"""The service-to-service HTTP client (httpx), authenticated with short-lived service tokens."""

from __future__ import annotations

import threading
from typing import Any

import httpx

from shared.auth import mint_service_token
from shared.observability import REQUEST_ID_HEADER, current_request_id, new_request_id
from shared.observability_tracing import instrument_client
from shared.settings import ServiceName, Settings


class ServiceClient:
    """Calls another Yardstick service by name. One per process, made in the lifespan.

    ``transports`` lets tests route a service name to an in-process ASGI app.
    """

    def __init__(
        self,
        settings: Settings,
        caller: str,
        *,
        transports: dict[str, httpx.BaseTransport] | None = None,
        timeout: float = 30.0,
    ) -> None:
        self._settings = settings
        self._caller = caller
        self._transports = transports or {}
        self._clients: dict[str, httpx.Client] = {}
        self._timeout = timeout
        # The worker's delivery lanes share one client; httpx.Client is thread-safe.
        self._lock = threading.Lock()

    def _client(self, service: ServiceName) -> httpx.Client:
        with self._lock:
            if service not in self._clients:
                self._clients[service] = httpx.Client(
                    base_url=self._settings.service_url(service),
                    transport=self._transports.get(service),
                    timeout=self._timeout,
                )
                instrument_client(self._clients[service])
            return self._clients[service]

    def request(
        self,
        service: ServiceName,
        method: str,
        path: str,
        *,
        json: Any = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> httpx.Response:
        """``timeout`` (seconds) replaces the client's for this request. The request id
        of the work in hand goes with it (a new one outside any), so the receiver's log
        lines join the caller's."""
        token = mint_service_token(self._settings, self._caller)
        all_headers = {
            "Authorization": f"Bearer {token}",
            REQUEST_ID_HEADER: current_request_id() or new_request_id(),
            **(headers or {}),
        }
        return self._client(service).request(
            method,
            path,
            json=json,
            headers=all_headers,
            timeout=httpx.USE_CLIENT_DEFAULT if timeout is None else timeout,
        )

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()
