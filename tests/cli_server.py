"""A warm `tinynas` for the end-to-end tests: one process imports the CLI (and torch) once,
then forks a child per command. Each child is a real process running the real entry point
(`search.cli.main`) in its own working folder and environment, with its own stdout, stderr
and exit code, as `python -m search ...` would be; only the imports (seconds) are shared.

Protocol on stdin/stdout, one JSON object per line: the test sends
{"args", "cwd", "env", "out", "err"}, the server answers {"pid"} at once and {"rc"} when the
child ends. The parent never runs a torch op, so no OpenMP pool exists to break in a fork.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import traceback


def _child(request: dict) -> None:
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    for fd, path in ((1, request["out"]), (2, request["err"])):
        target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(target, fd)
        os.close(target)
    sys.argv = ["tinynas", *request["args"]]
    code = 0
    try:
        from search.cli import main

        main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if not isinstance(exc.code, int | None):
            print(exc.code, file=sys.stderr)
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


def serve() -> None:
    # torch, optuna, pandas, rich: shared; and torch._dynamo, which torch.optim imports when the
    # first optimiser is made (2-3 s of every command that trains here; imported, it runs nothing)
    for module in ("search.api", "search.cli", "search.cli.display", "torch._dynamo"):
        importlib.import_module(module)

    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(request)
        print(json.dumps({"pid": pid}), flush=True)
        _, status = os.waitpid(pid, 0)
        print(json.dumps({"rc": os.waitstatus_to_exitcode(status)}), flush=True)


if __name__ == "__main__":
    serve()
