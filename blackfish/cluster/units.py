"""The system units of a node, as systemd in the node reports them.

Provider-independent: everything runs through a `run(argv) -> (exit code, output)` into the
node (a docker exec, or the provider's ssh command line). The unit names come from the
node's rendered user-data, so only blackfish's own units are reported.
"""

from __future__ import annotations

from typing import Callable

from blackfish.errors import BlackfishError
from blackfish.model.stack import Node
from blackfish.state import StateDir

Run = Callable[[tuple[str, ...]], tuple[int, str]]

# A unit that restarted and has not stayed up this long since still counts as failing.
SETTLED_SECONDS = 60
# Runs its arguments as root: through sudo when the provider's ssh logs in as a user (core),
# who may not read the system journal.
AS_ROOT = 'if [ "$(id -u)" != 0 ]; then set -- sudo -n "$@"; fi; exec "$@"'
# Where a container unit's await-image marks that it waits for its image: one file per unit,
# named after it (AWAIT_IMAGE_MARKER in templates/units/container.j2).
AWAIT_IMAGE_MARKERS = "/run/blackfish/await-image"
JOURNAL_LINES = 15


def unit_names(state: StateDir, node: Node) -> list[str]:
    """The units the node's user-data starts, in order ([] when it has none rendered)."""
    from blackfish.render import cloudinit
    from blackfish.state import user_data_path

    rel = user_data_path(node.name)
    text = state.read(rel)
    if text is None:
        return []
    try:
        config = cloudinit.parse(text.decode(), str(state.file(rel)))
    except BlackfishError:
        return []
    return list(dict.fromkeys(u.name for u in config.units))


def unit_states(run: Run, names: list[str]) -> dict[str, str]:
    """Each unit's state in the node: systemd's ActiveState, except that a unit that keeps
    failing and restarting is `failed`, also in the moments it runs between two failures, and
    a system service running but still waiting for its image (templates/files/await-image
    leaves a marker named after the unit) is `waiting`."""
    if not names:
        return {}
    show = "systemctl show --property=Id,ActiveState,SubState,NRestarts,ActiveEnterTimestampMonotonic"
    awaiting = f'for f in {AWAIT_IMAGE_MARKERS}/*; do [ -f "$f" ] && echo "AwaitingImage=${{f##*/}}"; done'
    _, output = run(("sh", "-c", f'cut -d" " -f1 /proc/uptime; {show} "$@"; echo; {awaiting}', "-", *names))
    lines = output.splitlines()
    try:
        now = float(lines[0]) * 1e6
    except (IndexError, ValueError):
        now = 0.0
    states, current, waiting = {}, {}, set()
    for line in lines[1:] + [""]:
        if not line.strip():
            if "Id" in current:
                states[current["Id"]] = _unit_state(current, now)
            current = {}
        elif line.startswith("AwaitingImage="):
            waiting.add(line.split("=", 1)[1])
        elif "=" in line:
            key, value = line.split("=", 1)
            current[key] = value
    return {name: "waiting" if (state := states.get(name, "unknown")) == "active" and name in waiting else state
            for name in names}


def _unit_state(props: dict[str, str], now_us: float) -> str:
    active = props.get("ActiveState", "unknown")
    restarts = int(props.get("NRestarts") or 0)
    up_since = int(props.get("ActiveEnterTimestampMonotonic") or 0)
    if props.get("SubState") == "auto-restart":
        return "failed"
    if active == "active" and restarts and now_us - up_since < SETTLED_SECONDS * 1e6:
        return "failed"
    return active


def counts(states: dict[str, str]) -> str:
    """`12 active, 1 failed`, or `-` when nothing was reported."""
    tally = {s: sum(1 for v in states.values() if v == s) for s in dict.fromkeys(states.values())}
    return ", ".join(f"{n} {s}" for s, n in tally.items()) or "-"


def failed(states: dict[str, str]) -> list[str]:
    return sorted(name for name, s in states.items() if s == "failed")


def waiting(states: dict[str, str]) -> list[str]:
    """The system services that wait for their image (a pull that fails, or `blackfish load`)."""
    return sorted(name for name, s in states.items() if s == "waiting")


def summary(states: dict[str, str]) -> str:
    """`12 active, 1 failed (blackfish-consul.service)`."""
    names = failed(states)
    return f"{counts(states)} ({', '.join(names)})" if names else counts(states)


def diagnose(run: Run, names: list[str]) -> str | None:
    """The failing (or still starting) unit of a late node, and its journal's tail."""
    states = unit_states(run, names)
    culprit = next((u for u, s in states.items() if s == "failed"), None) \
        or next((u for u, s in states.items() if s in ("activating", "inactive") and u.endswith(".service")), None)
    if culprit is None:
        return None
    _, journal = run(("sh", "-c", AS_ROOT, "-", "journalctl", "--no-pager", "-n", str(JOURNAL_LINES), "-u", culprit))
    return f"unit {culprit} is {states[culprit]}; its journal ends:\n{journal.rstrip()}"
