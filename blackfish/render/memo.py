"""What the last render of each node was made from, so a rerun can skip the templates.

`render-memo.json` in the state directory maps each node to two SHA-256 digests: of
everything its user-data is made from (the stack, the node's certificate and key, the CA,
the secrets, every template file, blackfish's own code) and of the user-data it wrote. A
rerun that finds both the same (the second by reading the file back) keeps the file
without running the templates, which were nearly all of a rerun's time.
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
        self.now: dict[str, list[str]] = {}

    def unchanged(self, node: str, inputs: str, rel: str) -> bool:
        """True when the node's user-data was made from these inputs and is still on disk as written."""
        seen = self.before.get(node)
        if not isinstance(seen, list) or len(seen) != 2 or seen[0] != inputs:
            return False
        data = self.state.read(rel)
        if data is None or hashlib.sha256(data).hexdigest() != seen[1]:
            return False
        self.now[node] = seen
        return True

    def record(self, node: str, inputs: str, data: bytes) -> None:
        self.now[node] = [inputs, hashlib.sha256(data).hexdigest()]

    def save(self, others: tuple[str, ...] = ()) -> None:
        """Write the memo of the nodes rendered now; `others` (not rendered this time, such as
        another group's nodes) keep what the last memo said of them."""
        kept = {node: self.before[node] for node in others if node in self.before and node not in self.now}
        self.state.write(MEMO, json.dumps({**kept, **self.now}, sort_keys=True) + "\n", mode=MEMO_MODE)
