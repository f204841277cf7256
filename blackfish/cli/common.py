"""Options and helpers shared by commands: the nodes file, the stack argument."""

from __future__ import annotations

import os
from pathlib import Path

import click

from blackfish.errors import UsageError

file_option = click.option(
    "-f", "--file", "nodes_file", metavar="PATH", default=None,
    help="The nodes file [default: $BLACKFISH_NODES_YML, else ./nodes.yml].",
)


def echo_warnings(loaded) -> None:
    for warning in loaded.warnings:
        click.echo(str(warning), err=True)


def load_config(nodes_file: str | None):
    """The nodes file, checked as a group of its stack (against the stack's other groups, if any)."""
    from blackfish import groups
    from blackfish.model import config

    loaded = config.load(config.resolve_path(nodes_file), context_for=groups.context_for)
    echo_warnings(loaded)
    return loaded


def load_stack(nodes_file: str | None, stack_name: str | None = None, provider: str | None = None):
    """The Stack planned from the nodes file; STACK, when given, must be the file's stack."""
    from blackfish.model.stack import plan

    loaded = load_config(nodes_file)
    if stack_name is not None and stack_name != loaded.config.stack:
        raise UsageError(
            f"{loaded.path}: describes stack {loaded.config.stack!r}, not {stack_name!r} "
            "(choose the file with -f/--file or $BLACKFISH_NODES_YML)"
        )
    from blackfish import groups

    return plan(loaded.config, source=Path(loaded.path), provider=provider, recorded=groups.recorded(loaded.config.stack))


def checked_stack_name(stack_name: str) -> str:
    """STACK from the command line, refused unless it could name a stack: it becomes a path
    under $BLACKFISH_HOME and a pattern for `certs uninstall` (`..` or `*` must not)."""
    from blackfish.model.naming import stack_name_problem

    if problem := stack_name_problem(stack_name):
        raise UsageError(f"{stack_name!r} is not a stack name: {problem}")
    return stack_name


def recorded_stack(stack_name: str):
    """The Stack as recorded in its state directory (for commands that need no nodes.yml), on
    the provider that booted it."""
    from blackfish import record
    from blackfish.state import StateDir

    return record.stack(StateDir(checked_stack_name(stack_name)))


def target_stack_name(stack_name: str | None, nodes_file: str | None) -> str:
    """STACK when given, else the nodes file's stack."""
    if stack_name is not None:
        return checked_stack_name(stack_name)
    return load_config(nodes_file).config.stack


def target_stack(stack_name: str | None, nodes_file: str | None):
    """The stack a command acts on: planned from the nodes file when that file describes it,
    else as recorded by its last `up` (so no nodes.yml is needed); the provider always comes
    from the record when there is one."""
    from blackfish.model import config

    from blackfish.state import StateDir

    explicit = nodes_file is not None or bool(os.environ.get(config.FILE_ENV))
    if stack_name is not None and not explicit:
        path = Path(config.resolve_path(None))
        describes_it = path.is_file() and _stack_named_in(path) == stack_name
        # A nodes file about another stack is the likelier mistake when STACK has no state.
        if not describes_it and (StateDir(stack_name).exists() or not path.is_file()):
            return recorded_stack(stack_name)
    return with_booted_provider(load_stack(nodes_file, stack_name))


def with_booted_provider(stack):
    import dataclasses

    from blackfish.lifecycle import booted_provider
    from blackfish.state import StateDir

    recorded = booted_provider(StateDir(stack.name))
    return dataclasses.replace(stack, provider=recorded) if recorded else stack


def _stack_named_in(path: Path) -> str | None:
    """The `stack:` a nodes file names, without validating the rest (None when unreadable)."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    return data.get("stack") if isinstance(data, dict) else None
