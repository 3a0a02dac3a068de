"""Serving over stdio: a start-up that asks PostHog for the key's record while the SDK loads, and a clean stop on
SIGINT or SIGTERM."""

from __future__ import annotations

import gc
import importlib
import logging
import math
import os
import signal
import threading
from collections.abc import Iterator
from typing import cast

import anyio
import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread

from server.config import Settings
from server.credentials import Keys, Questions
from server.options import Options
from server.posthog import PostHog
from server.retries import RetryPolicy
from server.state import open_state

logger = logging.getLogger(__name__)

STOPS = (signal.SIGINT, signal.SIGTERM)
GRACE = 0.5
"""Seconds a stop may take before the process ends without finishing it: a client that no longer reads stdout can
hold the last write forever."""
CHUNK = 1 << 16
BACKLOG = 16


async def serve(settings: Settings, options: Options) -> int:
    """Serve MCP over stdin and stdout until stdin ends (exit status 0), or until SIGINT or SIGTERM.

    A signal cancels the calls in flight (their requests to PostHog are abandoned) and ends the process with
    128 + the signal's number, 130 for SIGINT and 143 for SIGTERM, as a shell reports a program that a signal ended
    (the process ends by exiting, after its clean-up, rather than by the signal itself). Nothing more is written to
    stdout, and no message is cut short there: the SDK's writer finishes the line it is writing.

    Before the SDK is imported (~0.6 s), the event loop runs: the key's record is asked for at once (`open_state`)
    and PostHog's answer arrives while a worker thread imports the SDK, so the first tools/list need not wait for it.
    """
    stop = Stop()
    lines = Lines(0)
    async with anyio.create_task_group() as watching:
        watching.start_soon(stop.watch)
        with stop.scope:
            async with open_state(
                settings, options, Questions(PostHog(settings, RetryPolicy(), None), Keys(stdio=True)), stateless=False
            ) as state:
                await load_sdk()
                from mcp.server.lowlevel.server import NotificationOptions
                from mcp.server.stdio import stdio_server

                from server.app import build_server

                server = build_server(settings, options, state=state)
                initialization = server.create_initialization_options(NotificationOptions(tools_changed=True))
                # The SDK only iterates the stdin it is given; given one, it leaves fd 0 alone and still guards fd 1.
                async with stdio_server(stdin=cast("anyio.AsyncFile[str]", lines)) as (read, write):
                    await server.run(read, write, initialization)
        watching.cancel_scope.cancel()
    return 128 + stop.signal if stop.signal is not None else 0


async def load_sdk() -> None:
    """Import what serving needs of the SDK, most of the start-up, in a worker thread; the event loop runs meanwhile.

    Start-up makes ~140,000 objects that live as long as the process, and `main` turned the cyclic garbage collector
    off before them: its passes over them find next to nothing and cost ~10 % of the start-up. Once they are made,
    they are frozen and the collector is back on: it never walks them again, and the interpreter's shutdown, which
    walked them for ~0.25 s, ends in ~15 ms.
    """
    try:
        await anyio.to_thread.run_sync(importlib.import_module, "server.app")
        await anyio.to_thread.run_sync(importlib.import_module, "mcp.server.stdio")
    finally:
        gc.freeze()
        gc.enable()


class Stop:
    """SIGINT and SIGTERM alike: the first cancels serving and gives it GRACE seconds; later ones change nothing.

    Left to Python, SIGTERM ended the process wherever it was (in the middle of a line on stdout, say), and a second
    SIGINT raised KeyboardInterrupt into the shutdown the first one started.
    """

    def __init__(self) -> None:
        self.scope = anyio.CancelScope()
        self.signal: int | None = None

    async def watch(self) -> None:
        try:
            with anyio.open_signal_receiver(*STOPS) as received:
                async for number in received:
                    if self.signal is None:
                        self.signal = number
                        logger.info("%s: stopping", signal.Signals(number).name)
                        self.scope.cancel()
                        deadline = threading.Timer(GRACE, os._exit, [128 + number])
                        deadline.daemon = True
                        deadline.start()
        except NotImplementedError:  # Windows: asyncio watches no signals there, and Ctrl-C stays KeyboardInterrupt
            return
        finally:
            if self.signal is not None:  # the receiver has given the signals back to Python's handlers: ignore them
                for number in STOPS:
                    signal.signal(number, signal.SIG_IGN)


class Lines:
    """stdin's lines, read by a daemon thread that the process leaves behind when it ends.

    Why Ctrl-C did not stop the server: the SDK reads stdin in an anyio worker thread, blocked in a read that no
    cancellation stops. asyncio's SIGINT handler cancelled the main task, which then waited for that read to return,
    until the client wrote again or closed stdin; a second Ctrl-C's KeyboardInterrupt left the loop waiting on it as
    it closed. Here the thread reads with os.read, which holds no lock that the interpreter's shutdown could wait
    on, and hands each line over with a callback on the event loop, never a coroutine that the loop's end would leave
    unfinished. At most BACKLOG lines wait unread.
    """

    def __init__(self, fd: int) -> None:
        self._send, self._receive = anyio.create_memory_object_stream[str](math.inf)
        self._room = threading.Semaphore(BACKLOG)
        token = anyio.lowlevel.current_token()
        threading.Thread(target=self._read, args=(fd, token), name="stdin", daemon=True).start()

    def __aiter__(self) -> Lines:
        return self

    async def __anext__(self) -> str:
        try:
            line = await self._receive.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None
        self._room.release()
        return line

    def _read(self, fd: int, token: anyio.lowlevel.EventLoopToken) -> None:
        try:
            for line in lines_of(fd):
                self._room.acquire()
                anyio.from_thread.run_sync(self._send.send_nowait, line, token=token)
            anyio.from_thread.run_sync(self._send.close, token=token)
        except RuntimeError:  # anyio.RunFinishedError: the event loop, and serving, ended first
            pass


def lines_of(fd: int) -> Iterator[str]:
    """The lines read from `fd`, each with its newline, decoded as the SDK does; the last may lack one."""
    pending = bytearray()
    try:
        while chunk := os.read(fd, CHUNK):
            searched = len(pending)
            pending += chunk
            while (end := pending.find(b"\n", searched)) >= 0:
                yield pending[: end + 1].decode("utf-8", "replace")
                del pending[: end + 1]
                searched = 0
    except OSError as failure:
        logger.warning("Could not read stdin, so serving ends: %s", failure)
    if pending:
        yield pending.decode("utf-8", "replace")
