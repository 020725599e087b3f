"""The `blueprint` command line: a thin layer over the pipeline's functions.

Exit codes for every command: 0 success, 1 failure while running, 2 invalid input or usage.
Errors are printed as one screen of text, never as a traceback (set BP_DEBUG=1 to see one).
"""

from __future__ import annotations

import os
import sys

import click
import typer

try:  # typer >= 0.20 ships its own copy of click; its exceptions are not click's
    from typer._click.exceptions import ClickException as _TyperClickException
except ImportError:  # pragma: no cover - older typer raises click's own exceptions
    _TyperClickException = click.ClickException

_ABORT = (click.exceptions.Abort, typer.Abort)
_CLICK_ERRORS = (click.ClickException, _TyperClickException)
_CLICK_EXIT = (click.exceptions.Exit, typer.Exit)
from rich.console import Console

from blueprint_pipeline.errors import EXIT_FAILURE, EXIT_INVALID, BlueprintError, InvalidInputError

app = typer.Typer(
    name="blueprint",
    help="Scene manifests to simulation-ready scenes, Genie Sim exports and LeRobot datasets.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

# Each module registers its commands on `app` when imported.
from blueprint_pipeline.cli import batch_cmds, dataset_cmds, episode_cmds, eval_cmds, geniesim_cmds, run_cmds, scene_cmds, service_cmds  # noqa: E402,F401


def report_error(exc: BaseException) -> int:
    """Print an error on one screen and return its exit code."""
    from blueprint_pipeline.secrets.redact import redact

    if isinstance(exc, InvalidInputError):
        err_console.print(f"[bold red]error:[/] {redact(str(exc))}", markup=True)
        return EXIT_INVALID
    if isinstance(exc, BlueprintError):
        err_console.print(f"[bold red]error ({exc.category}):[/] {redact(str(exc))}", markup=True)
        return exc.exit_code
    err_console.print(f"[bold red]internal error:[/] {type(exc).__name__}: {redact(str(exc))}", markup=True)
    return EXIT_FAILURE


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    try:
        rv = app(args=argv, standalone_mode=False)
    except _ABORT:
        err_console.print("aborted")
        sys.exit(EXIT_FAILURE)
    except _CLICK_ERRORS as exc:  # usage errors: unknown option, missing argument
        exc.show()
        sys.exit(EXIT_INVALID)
    except _CLICK_EXIT as exc:
        sys.exit(getattr(exc, "exit_code", 0))
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
    except BaseException as exc:  # noqa: BLE001 - the one place that turns errors into exit codes
        if isinstance(exc, SystemExit):
            raise
        if os.environ.get("BP_DEBUG") in ("1", "true", "yes"):
            raise
        sys.exit(report_error(exc))
    sys.exit(rv if isinstance(rv, int) else 0)
