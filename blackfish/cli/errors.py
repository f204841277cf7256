"""Running the click app: one place that turns errors into a message and an exit code."""

from __future__ import annotations

import click

from blackfish.errors import EXIT_FAILURE, BlackfishError, user_lines


# click >= 8.2 raises it for a group without its sub-command; older click exits with the help.
_NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())


def run(app: click.Group, args: list[str], debug: bool) -> int:
    try:
        result = app.main(args=args, prog_name="blackfish", standalone_mode=False)
        return result if isinstance(result, int) else 0
    except BlackfishError as exc:
        if debug:
            import traceback

            traceback.print_exc()
        for line in user_lines(exc):
            click.echo(line, err=True)
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return EXIT_FAILURE
    except _NO_ARGS_IS_HELP as exc:  # a group run without a sub-command: its help is the answer
        exc.show()
        return exc.exit_code
    except click.ClickException as exc:
        # One line, like every other error, instead of click's usage block.
        ctx = getattr(exc, "ctx", None)
        hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
        click.echo(f"blackfish: error: {exc.format_message().rstrip('.')}{hint}", err=True)
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

