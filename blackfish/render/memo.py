"""What the last render of each node was made from, so a rerun can skip the templates.

`render-memo.json` in the state directory maps each node to two SHA-256 digests: of
everything its user-data is made from (the stack, the node's certificate and key, the CA,
the secrets, every template file, blackfish's own code) and of the user-data it wrote,
with that file's size and mtime. A rerun that finds the same inputs and the file as written
keeps it without running the templates, which were nearly all of a rerun's time. The file
is read back and hashed only when its size or mtime differ (an edit changes them; reading
and hashing every user-data was a fifth of a rerun): an edited file is rendered again.
"""

from __future__ import annotations

import hashlib
import json

from blackfish.state import RENDER_MEMO, StateDir

MEMO = RENDER_MEMO
MEMO_MODE = 0o600  # digests of keys and secrets: not secret, but no one else's business


class Memo:
    def __init__(self, state: StateDir):
        self.state = state
        try:
            loaded = json.loads(state.read(MEMO) or b"{}")
        except ValueError:  # damaged: render everything again
            loaded = {}
        self.before = loaded if isinstance(loaded, dict) else {}
        self.now: dict[str, list] = {}  # node -> [inputs digest, user-data digest, size, mtime_ns]
        self._written: dict[str, str] = {}  # node -> its user-data, written by this render

    def unchanged(self, node: str, inputs: str, rel: str) -> bool:
        """True when the node's user-data was made from these inputs and is still on disk as written."""
        seen = self.before.get(node)
        if not isinstance(seen, list) or len(seen) not in (2, 4) or seen[0] != inputs:
            return False
        on_disk = self.state.stat(rel)  # before the read: a change after it shows next time
        if on_disk is None:
            return False
        if seen[2:] != [on_disk.st_size, on_disk.st_mtime_ns]:
            data = self.state.read(rel)
            if data is None or hashlib.sha256(data).hexdigest() != seen[1]:
                return False
        self.now[node] = [*seen[:2], on_disk.st_size, on_disk.st_mtime_ns]
        return True

    def record(self, node: str, inputs: str, data: bytes, rel: str) -> None:
        self.now[node] = [inputs, hashlib.sha256(data).hexdigest()]
        self._written[node] = rel

    def save(self, others: tuple[str, ...] = ()) -> None:
        """Write the memo of the nodes rendered now; `others` (not rendered this time, such as
        another group's nodes) keep what the last memo said of them."""
        kept = {node: self.before[node] for node in others if node in self.before and node not in self.now}
        for node, rel in self._written.items():
            written = self.state.stat_as_written(rel)
            self.now[node] += [written.st_size, written.st_mtime_ns]
        self.state.write(MEMO, json.dumps({**kept, **self.now}, sort_keys=True) + "\n", mode=MEMO_MODE)
