"""A journald-sink for tests: a TCP server that records every line it reads, and drops connections.

DroppingSink(address, drops, after, marker): the first `drops` connections are reset (SO_LINGER 0,
so whatever the kernel holds unread is discarded, as when a sink process dies) right after the
`after`-th line containing `marker` arrives on them; later connections stay up. Every line read
is kept in `lines`, in order, duplicates included.
"""

from __future__ import annotations

import socket
import struct
import threading


class DroppingSink:
    def __init__(self, address: tuple[str, int], drops: int, after: int, marker: str):
        self.drops, self.after, self.marker = drops, after, marker
        self.lines: list[str] = []
        self.connections = 0
        self._server = socket.create_server(address, reuse_port=False)
        self._server.settimeout(0.5)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except socket.timeout:
                continue
            self.connections += 1
            self._receive(conn, drop=self.connections <= self.drops)

    def _receive(self, conn: socket.socket, drop: bool) -> None:
        buffer, seen = b"", 0
        conn.settimeout(0.5)
        with conn:
            while not self._stop.is_set():
                try:
                    chunk = conn.recv(65536)
                except socket.timeout:
                    continue
                except OSError:
                    return
                if not chunk:
                    return
                *complete, buffer = (buffer + chunk).split(b"\n")
                for line in complete:
                    text = line.decode(errors="replace")
                    self.lines.append(text)
                    seen += self.marker in text
                if drop and seen >= self.after:
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    return  # closing with linger 0 sends a reset

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._server.close()
