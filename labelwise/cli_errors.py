"""Clean command-line errors for every labelwise command: one message, a non-zero exit code, no traceback.

Every `main` of a labelwise command (train.py, push_to_hub.py, prepare, verify, crossval, demo,
viewer) is wrapped by `cli_main`:

* an error caused by the user's input (a corpus file in the wrong format, a bad option, a missing
  path: `ValueError`, `OSError`, `ImportError` and their subclasses, and any exception class that
  labelwise itself defines, also when a library wrapped them, e.g. in `datasets`'
  `DatasetGenerationError`) is printed as `<prog>: error: <message>`
  and the command exits with `EXIT_USER_ERROR`;
* a full disk is named as such, with the path being written and the space left there
  (`EXIT_DISK_FULL`);
* anything else is a labelwise bug: its type and message are printed and the command exits with
  `EXIT_INTERNAL_ERROR`;
* `--debug` (for train.py, whose `--debug` is a transformers option: `--traceback`), or the
  environment variable `LABELWISE_DEBUG=1`, re-raises instead, so the full traceback is shown.

The messages themselves come from the code that raises: they name the file, line, field or option.
"""

from __future__ import annotations

import errno
import functools
import os
import shutil
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

__all__ = [
    "EXIT_DISK_FULL",
    "EXIT_INTERNAL_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_USER_ERROR",
    "cli_main",
    "describe_error",
    "note_output_path",
]

EXIT_INTERNAL_ERROR = 1
EXIT_USER_ERROR = 2  # as argparse's own usage errors
EXIT_DISK_FULL = 3
EXIT_INTERRUPTED = 130  # as a shell reports Ctrl-C

DEBUG_ENVIRONMENT = "LABELWISE_DEBUG"
# Exceptions that mean "the input is wrong" (errors from data_scripts, the publishing checks and the
# checkpoint checks all derive from ValueError; paths and permissions from OSError).
USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, OSError, ImportError)
_DISK_FULL_ERRNOS = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
# How libraries that do not raise OSError word a full disk (safetensors' Rust IoError, torch.save).
_DISK_FULL_WORDS = ("no space left on device", "storagefull", "disk quota exceeded")

_output_paths: list[str] = []

F = TypeVar("F", bound=Callable[..., Any])


def note_output_path(path: str | os.PathLike) -> None:
    """Tell the error handler where this command writes, so a full disk can be named.

    A failed `write()` often carries no file name (safetensors and torch.save never do).
    """
    _output_paths.append(os.fspath(path))


def _chain(error: BaseException) -> Iterator[BaseException]:
    """The error, then its causes and contexts (libraries wrap the user's error in their own)."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__


def _disk_full(error: BaseException) -> BaseException | None:
    for item in _chain(error):
        if isinstance(item, OSError) and item.errno in _DISK_FULL_ERRNOS:
            return item
        if any(words in str(item).lower() for words in _DISK_FULL_WORDS):
            return item
    return None


def _raised_by_labelwise_for_input(error: BaseException) -> bool:
    """Whether `error` is of a class labelwise defines: labelwise defines them only for bad input or a
    refused request (CorpusError, HierarchyError, TaskMismatchError, CheckpointError, FolderError,
    PushError, RemoteCodeError), whatever their base class."""
    return type(error).__module__.startswith("labelwise.")


def _free_space(path: str) -> str:
    folder = path
    while folder and not os.path.exists(folder):
        folder = os.path.dirname(folder)
    try:
        free = shutil.disk_usage(folder or ".").free
    except OSError:
        return "unknown"
    return f"{free / 2**20:.1f} MiB"


def _message_of(error: BaseException) -> str:
    if isinstance(error, OSError) and error.filename is not None and str(error.filename) not in str(error):
        return f"{error.strerror or error}: {error.filename}"
    text = str(error).strip()
    if isinstance(error, KeyError) and text.startswith(("'", '"')):
        text = f"missing key {text}"
    return text or type(error).__name__


def describe_error(error: BaseException) -> tuple[str, int]:
    """The one-paragraph message and exit code `cli_main` prints for `error`."""
    full = _disk_full(error)
    if full is not None:
        filename = getattr(full, "filename", None)
        path = os.fspath(filename) if filename else (_output_paths[-1] if _output_paths else None)
        where = f"writing {path}" if path else "writing the output (the path was not reported)"
        free = f" ({_free_space(path)} free there)" if path else ""
        return (
            f"the disk is full: no space left while {where}{free}. Free some space, or write somewhere else "
            "(e.g. another --output_dir), then run the command again.",
            EXIT_DISK_FULL,
        )
    for item in _chain(error):
        if isinstance(item, USER_ERRORS) or _raised_by_labelwise_for_input(item):
            return _message_of(item), EXIT_USER_ERROR
    return (
        f"unexpected {type(error).__name__}: {_message_of(error)}. This looks like a labelwise bug; please report it "
        "with the traceback.",
        EXIT_INTERNAL_ERROR,
    )


def run_cli(
    main: Callable[[list[str]], Any],
    argv: Sequence[str] | None,
    *,
    prog: str,
    debug_flags: Sequence[str] = ("--debug",),
) -> Any:
    """Call `main(argv)` (with the debug flags removed) and turn any exception into a clean exit."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    debug = os.environ.get(DEBUG_ENVIRONMENT, "").lower() in ("1", "true", "yes")
    if any(flag in arguments for flag in debug_flags):
        debug = True
        arguments = [argument for argument in arguments if argument not in debug_flags]
    _output_paths.clear()
    try:
        return main(arguments)
    except SystemExit:
        raise  # argparse's usage errors and --help, or a command's own exit code
    except KeyboardInterrupt:
        if debug:
            raise
        print(f"{prog}: interrupted.", file=sys.stderr)
        raise SystemExit(EXIT_INTERRUPTED) from None
    except Exception as error:
        if debug:
            raise
        message, code = describe_error(error)
        print(f"{prog}: error: {message}", file=sys.stderr)
        print(f"{prog}: (run again with {debug_flags[0]} to see the traceback)", file=sys.stderr)
        raise SystemExit(code) from None


def cli_main(prog: str, *, debug_flags: Sequence[str] = ("--debug",)) -> Callable[[F], F]:
    """Decorate a command's `main(argv=None)` so that errors leave as clean messages (see module doc).

    The decorated function still returns what `main` returns, so tests and other code can call it.
    """

    def decorate(main: F) -> F:
        @functools.wraps(main)
        def wrapper(argv: Sequence[str] | None = None) -> Any:
            return run_cli(main, argv, prog=prog, debug_flags=debug_flags)

        return wrapper  # type: ignore[return-value]

    return decorate
