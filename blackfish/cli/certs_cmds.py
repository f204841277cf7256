"""`blackfish certs ...`: show and rotate a stack's certificates (install/uninstall live in trust)."""

from __future__ import annotations

import click

from blackfish.cli.common import file_option

SHOW_COLUMNS = ("file", "subject", "sans", "not_after", "sha256")


@click.group()
def certs():
    """The stack's CA and certificates."""


def _stack_name(stack_name: str | None, nodes_file: str | None) -> str:
    if stack_name is not None:
        return stack_name
    from blackfish.cli.common import load_config

    return load_config(nodes_file).config.stack


def _stack(stack_name: str | None, nodes_file: str | None):
    """The Stack from nodes.yml when it describes STACK; else the one recorded in the state
    directory (with the CA's key type and constraints), so a stack booted from another
    directory can still be rotated."""
    from pathlib import Path

    from blackfish import config
    from blackfish.cli.common import load_stack, recorded_stack
    from blackfish.state import StateDir

    if stack_name is not None and nodes_file is None and StateDir(stack_name).exists():
        path = config.resolve_path(None)
        if not path.is_file() or config.load(Path(path)).config.stack != stack_name:
            from blackfish import pki

            state = StateDir(stack_name)
            return pki.with_recorded_settings(recorded_stack(stack_name), state)
    return load_stack(nodes_file, stack_name)


@certs.command()
@click.argument("stack_name", metavar="[STACK]", required=False)
@file_option
@click.option("--json", "as_json", is_flag=True, help="Print the certificates as JSON.")
def show(stack_name, nodes_file, as_json):
    """List the stack's certificates: subject, SANs, expiry, SHA-256 fingerprint."""
    from blackfish import pki
    from blackfish.cli.output import print_json, print_table
    from blackfish.state import StateDir

    rows = pki.describe(StateDir(_stack_name(stack_name, nodes_file)))
    if as_json:
        print_json(rows)
    else:
        print_table(rows, SHOW_COLUMNS)


@certs.command()
@click.argument("stack_name", metavar="[STACK]", required=False)
@file_option
@click.option("--ca", is_flag=True, help="Also replace the CA (every machine that trusts the old one must be updated).")
def rotate(stack_name, nodes_file, ca):
    """Issue new node and client certificates (with --ca: a new CA and everything under it)."""
    from blackfish import pki
    from blackfish.state import StateDir

    stack = _stack(stack_name, nodes_file)
    written = pki.rotate(stack, StateDir(stack.name), ca=ca)
    for rel in written:
        click.echo(f"wrote {rel}")
    if ca:
        click.echo(f"new CA: re-run `blackfish certs install {stack.name}` where the old one was trusted", err=True)
