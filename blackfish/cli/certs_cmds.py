"""`blackfish certs ...`: show and rotate a stack's certificates (install/uninstall live in trust)."""

from __future__ import annotations

import click

from blackfish.cli.common import file_option, target_stack, target_stack_name

# One block per certificate rather than a table: SANs and fingerprints are too long for
# columns, and a truncated fingerprint cannot be compared with what a browser shows.
SHOW_FIELDS = (("subject", "subject"), ("sans", "SANs"), ("not_after", "not after"), ("sha256", "SHA-256"))


@click.group()
def certs():
    """The stack's CA and certificates."""


@certs.command()
@click.argument("stack_name", metavar="[STACK]", required=False)
@file_option
@click.option("--json", "as_json", is_flag=True, help="Print the certificates as JSON.")
def show(stack_name, nodes_file, as_json):
    """List the stack's certificates: subject, SANs, expiry, SHA-256 fingerprint."""
    from blackfish import pki
    from blackfish.cli.output import print_json
    from blackfish.state import StateDir

    rows = pki.describe(StateDir(target_stack_name(stack_name, nodes_file)))
    if as_json:
        print_json(rows)
        return
    for i, row in enumerate(rows):
        click.echo(("\n" if i else "") + row["file"])
        for key, label in SHOW_FIELDS:
            value = ", ".join(row[key]) if isinstance(row[key], list) else row[key]
            click.echo(f"  {label:<10} {value or '-'}")


@certs.command()
@click.argument("stack_name", metavar="[STACK]", required=False)
@file_option
@click.option("--ca", is_flag=True, help="Also replace the CA (every machine that trusts the old one must be updated).")
def rotate(stack_name, nodes_file, ca):
    """Issue new node and client certificates (with --ca: a new CA and everything under it)."""
    from blackfish import pki
    from blackfish.state import StateDir

    stack = target_stack(stack_name, nodes_file)
    written = pki.rotate(stack, StateDir(stack.name), ca=ca)
    for rel in written:
        click.echo(f"wrote {rel}")
    if ca:
        click.echo(f"new CA: re-run `blackfish certs install {stack.name}` where the old one was trusted", err=True)


from blackfish.cli.trust_cmds import install, uninstall  # noqa: E402  (defined in trust_cmds, issue 8)

certs.add_command(install)
certs.add_command(uninstall)
