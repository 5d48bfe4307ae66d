"""Whether ``--scheduler ADDRESS`` is a Dask scheduler, asked before Dask's client is given it.

Given a server that is not a scheduler, Dask's client can wait for ever (a server that waits for
the client to speak first, as an HTTP server does: the dashboard's port 8787, say) or end in a
MemoryError (a server that answers the client's handshake with text, whose first bytes it reads as
a frame's length; a proxy in front of an unreachable host does that). A scheduler speaks first: as
it accepts a connection it sends its handshake, a frame whose first 8 bytes are the length of the
rest, little-endian (``distributed.comm.tcp``). So the run opens one connection itself and reads
those bytes. Only plain TCP addresses are asked; ``tls://`` and the others go to Dask as given.
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Callable

from harness.errors import HarnessError

__all__ = ["check_scheduler"]

GREETING_S = 5.0  # a scheduler sends its handshake within milliseconds of accepting
LONGEST_GREETING = 1 << 20  # bytes; a scheduler's handshake is about 60
RETRY_S = 0.5  # between attempts while nothing listens (a scheduler still starting)


def _host_port(address: str) -> tuple[str, int] | None:
    scheme, _, rest = address.rpartition("://")
    host, _, port = rest.rpartition(":")
    if scheme not in ("", "tcp") or not host or not port.isdigit():
        return None  # another protocol, or no port: Dask's own message says what is wrong
    return host.strip("[]"), int(port)


def _connect(where: tuple[str, int], address: str, wait_s: float, note: Callable[[str], None]) -> socket.socket:
    """A connection to ``where``, tried again while it is refused, for up to ``wait_s``."""
    deadline = time.monotonic() + wait_s
    noted = False
    while True:
        try:
            return socket.create_connection(where, timeout=max(deadline - time.monotonic(), 0.1))
        except ConnectionRefusedError as err:
            if time.monotonic() + RETRY_S > deadline:
                raise HarnessError(f"--scheduler {address}: cannot connect (nothing listens there: {err.strerror})") from None
            if not noted:
                note(f"Dask: nothing listens at {address} yet; trying for {wait_s:g} s")
                noted = True
            time.sleep(RETRY_S)
        except OSError as err:  # no route, unknown host, timed out
            raise HarnessError(f"--scheduler {address}: cannot connect ({type(err).__name__}: {err})") from None


def check_scheduler(address: str, wait_s: float, note: Callable[[str], None] = lambda text: None) -> None:
    """Raise a one-line :class:`HarnessError` unless a Dask scheduler greets at ``address``."""
    where = _host_port(address)
    if where is None:
        return
    with _connect(where, address, wait_s, note) as conn:
        conn.settimeout(GREETING_S)
        first = b""
        try:
            while len(first) < 8:
                chunk = conn.recv(8 - len(first))
                if not chunk:
                    break
                first += chunk
        except TimeoutError:
            pass
    if len(first) == 8 and 0 < struct.unpack("<Q", first)[0] <= LONGEST_GREETING:
        return
    said = f"it began with {first!r}" if first else f"it sent nothing in {GREETING_S:g} s"
    raise HarnessError(
        f"--scheduler {address}: not a Dask scheduler ({said}; a scheduler listens on port 8786 unless told "
        "otherwise, and 8787 is its dashboard)"
    )
