"""Reading nodes.yml within bounds: file size, nesting depth, aliases, what aliases expand to,
and the characters a value may hold.

A hostile or broken file must cost a second at most and end in a FILE:LINE:COL error:
a 540-byte "billion laughs" alias bomb expands to 10^9 values for anything that follows the
aliases (issue 16, finding 5); PyYAML's composer recurses once per nesting level (a deep
`[[[[...` is a RecursionError); a 50 MB file takes minutes to scan; a FIFO blocks `read()`.
"""

from __future__ import annotations

import os
import re
import stat

import yaml

# A nodes.yml of a hundred nodes is about 10 KB; PyYAML scans about 1 MB in 3 s.
MAX_FILE_BYTES = 256 * 1024
# nodes.yml nests 4 levels (nodes -> node -> labels -> value); room for list-form labels.
MAX_DEPTH = 16
# Values the document holds with every alias expanded: far above any real stack, far below a bomb.
MAX_VALUES = 50_000
# The longest value (an RSA-8192 SSH public key is about 1.4 KB); paths stay under PATH_MAX.
MAX_SCALAR = 4096

# Control characters (a line break in a value breaks every file it is rendered into), lone
# surrogates (not text: nothing can encode them), and Unicode line and paragraph separators.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


class LimitError(Exception):
    """The document exceeds a bound; mark is where (a yaml.Mark, or None for the whole file)."""

    def __init__(self, mark, message: str):
        super().__init__(message)
        self.mark = mark
        self.message = message


def read_text(path: str | os.PathLike) -> str:
    """The file's text, refusing what is not a regular file and what is over MAX_FILE_BYTES.

    Opened non-blocking, so a FIFO is refused instead of waiting forever for a writer."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise LimitError(None, "not a regular file")
        data = f.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise LimitError(None, f"larger than {MAX_FILE_BYTES // 1024} KiB; a nodes.yml is a few KB")
    return data.decode("utf-8")


def scalar_problem(value: str) -> str | None:
    """Why a scalar cannot be a value of nodes.yml (None when it can)."""
    if len(value) > MAX_SCALAR:
        return f"a value may be at most {MAX_SCALAR} characters long, this one has {len(value)}"
    if m := _UNSAFE.search(value):
        return f"a value may not contain control characters or line breaks (found {m.group()!r})"
    return None


class Loader(yaml.SafeLoader):
    """A SafeLoader whose composer bounds nesting depth and alias expansion.

    Each composed node is annotated with the number of values it expands to and its height,
    so an alias costs one lookup, however much it stands for."""

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            target = self.anchors.get(event.anchor)
            if target is not None and not hasattr(target, "_bf_values"):
                raise LimitError(event.start_mark, f"alias *{event.anchor} refers to a node that contains it")
            node = super().compose_node(parent, index)
            self._check(node, event.start_mark, self._depth + node._bf_height)
            return node
        mark = self.peek_event().start_mark
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise LimitError(mark, f"nested deeper than {MAX_DEPTH} levels")
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        children = _children(node)
        node._bf_values = 1 + sum(c._bf_values for c in children)
        node._bf_height = 1 + max((c._bf_height for c in children), default=0)
        self._check(node, mark, self._depth + node._bf_height)
        return node

    @staticmethod
    def _check(node, mark, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise LimitError(mark, f"nested deeper than {MAX_DEPTH} levels once its aliases are expanded")
        if node._bf_values > MAX_VALUES:
            raise LimitError(mark, f"expands to more than {MAX_VALUES} values (through aliases)")


def _children(node) -> list:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []
