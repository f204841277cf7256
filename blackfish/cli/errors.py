"""Running the click app: one place that turns errors into a message and an exit code."""

from __future__ import annotations

import click

from blackfish.errors import EXIT_BAD_INPUT, EXIT_FAILURE, BlackfishError


def run(app: click.Group, args: list[str], debug: bool) -> int:
    try:
        result = app.main(args=args, prog_name="blackfish", standalone_mode=False)
        return result if isinstance(result, int) else 0
    except BlackfishError as exc:
        if debug:
            import traceback

            traceback.print_exc()
        for line in exc.lines():
            click.echo(_prefix(line), err=True)
        if exc.detail:
            click.echo(exc.detail.rstrip(), err=True)
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return EXIT_FAILURE
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug: say so in one line unless asked for the traceback
        if debug:
            raise
        click.echo(f"blackfish: internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)", err=True)
        return EXIT_FAILURE


def _prefix(line: str) -> str:
    # Lines that already say where they come from (FILE:LINE:COL: ...) stand as they are.
    return line if _has_place(line) else f"blackfish: error: {line}"


def _has_place(line: str) -> bool:
    head = line.split(": ", 1)[0]
    parts = head.rsplit(":", 2)
    return len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit()


__all__ = ["run", "EXIT_BAD_INPUT"]
