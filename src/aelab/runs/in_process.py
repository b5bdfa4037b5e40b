"""Run an aelab command in this process, as if it were a new one, and put the process back after.

`aelab-experiments --jobs 1` and the test suite run many short commands; starting an
interpreter for each costs more than the work (imports). `run_here` calls the command's entry
point with its arguments in `cwd`, its output written to `stdout` and `stderr`, and returns its
exit code (0 when it returns, the code it exits with, 1 with a traceback when it raises). The
working folder, ``sys.argv``, the environment, the root logger's handlers and level, warnings
filters and torch's thread count are restored after.
"""

import contextlib
import logging
import os
import sys
import traceback
import warnings
from pathlib import Path
from typing import TextIO


def _entry_point(command: str):
    if command == "aelab-train":
        from aelab.train import main

        return lambda args: main()
    if command == "aelab-eval":
        from aelab.evaluate import main

        return lambda args: main()
    if command == "aelab-compare":
        from aelab.compare import main

        return main
    raise ValueError(f"no aelab command {command!r}")


def run_here(command: str, args: list[str], cwd: Path, stdout: TextIO, stderr: TextIO) -> int:
    """Exit code of `command` (aelab-train, aelab-eval, aelab-compare) run here with `args`."""
    import torch
    from hydra.core.global_hydra import GlobalHydra

    main = _entry_point(command)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    threads, environ, argv, here = torch.get_num_threads(), dict(os.environ), sys.argv, os.getcwd()
    code = 0
    try:
        os.chdir(cwd)
        os.environ.pop("HYDRA_FULL_ERROR", None)  # a user's one-line messages
        sys.argv = [command, *args]
        GlobalHydra.instance().clear()
        with (
            contextlib.redirect_stdout(stdout),
            contextlib.redirect_stderr(stderr),
            warnings.catch_warnings(),
        ):
            try:
                code = main(args) or 0
            except SystemExit as stop:
                code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
            except Exception:  # noqa: BLE001 - as a process would: a traceback and exit 1
                stderr.write(traceback.format_exc())
                code = 1
    finally:
        GlobalHydra.instance().clear()
        for handler in root.handlers[:]:
            if handler not in handlers:
                root.removeHandler(handler)
                handler.close()
        for handler in handlers:
            if handler not in root.handlers:
                root.addHandler(handler)
        root.setLevel(level)
        torch.set_num_threads(threads)
        os.environ.clear()
        os.environ.update(environ)
        sys.argv = argv
        os.chdir(here)
        stdout.flush()
        stderr.flush()
    return code
