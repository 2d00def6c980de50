"""The HTTP server: uvicorn with the h11 protocol, a limit on the request head's size while it arrives, and a
time limit for sending it (slow clients are cut, not held)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from bonefrac.serve.memory import return_large_buffers_to_the_os
from bonefrac.serve.settings import ServeSettings

logger = logging.getLogger("bonefrac.serve")


class HeadTimeoutProtocol(H11Protocol):
    """h11 with a deadline for each request head: a connection that has not sent a complete request line and
    headers `head_timeout_s` after it opened (or after its previous answer) gets 408 and is closed."""

    head_timeout_s: float = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        super().handle_events()
        if self.conn.their_state is not h11.IDLE:
            self._disarm_head_timer()  # the head has arrived; the body has its own limit

    def send_400_response(self, msg: str) -> None:
        """h11 refused the head: 431 when it grew past BONEFRAC_MAX_HEADER_BYTES, else uvicorn's 400."""
        limit = self.config.h11_max_incomplete_event_size
        if limit is None or len(self.conn.trailing_data[0]) <= limit:
            super().send_400_response(msg)
            return
        body = b"request head larger than BONEFRAC_MAX_HEADER_BYTES (431)\n"
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain; charset=utf-8\r\n"
            b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)
        )
        self.transport.close()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_head_timer()

    def _arm_head_timer(self) -> None:
        self._disarm_head_timer()
        self._head_timer = self.loop.call_later(self.head_timeout_s, self._head_timed_out)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        if self.conn.trailing_data[0]:  # a head was on its way: say why before closing
            body = b"request head not received within BONEFRAC_HEADER_TIMEOUT_S (408)\n"
            self.transport.write(
                b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
                b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)
            )
        self.transport.close()


def protocol_for(settings: ServeSettings) -> type[HeadTimeoutProtocol]:
    """HeadTimeoutProtocol with BONEFRAC_HEADER_TIMEOUT_S."""
    return type("ServiceProtocol", (HeadTimeoutProtocol,), {"head_timeout_s": settings.header_timeout_s})


def server_config(app: Any, settings: ServeSettings, host: str, port: int) -> uvicorn.Config:
    """uvicorn's settings for the service: h11 with the request-head limits, the shutdown grace."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=protocol_for(settings),
        h11_max_incomplete_event_size=settings.max_header_bytes,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=max(1, round(settings.shutdown_grace_s)),
        server_header=False,
    )


def run_server(app: Any, settings: ServeSettings, host: str, port: int) -> None:
    """Serve `app` until SIGTERM or Ctrl-C, giving freed buffers back to the operating system."""
    return_large_buffers_to_the_os()
    uvicorn.Server(server_config(app, settings, host, port)).run()
