"""Entry point of a Lambda worker process, run by the function's interpreter.

It needs only the standard library and awslambdaric (it runs in per-runtime
venvs too). It stops the worker when the local cloud's process goes away (so a
killed cloud leaves no orphan workers), then hands over to AWS's runtime
interface client, which loads the handler and polls the Runtime API.
"""

import os
import sys
import threading
import time


def _exit_with_parent(parent: int) -> None:
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os._exit(0)


def main() -> None:
    # Run as a script, this file's folder is sys.path[0]; the function must not
    # see the local cloud's modules (a module named `code` would shadow stdlib's).
    here = os.path.dirname(os.path.abspath(__file__))
    if sys.path and os.path.abspath(sys.path[0] or ".") == here:
        del sys.path[0]
    parent = int(os.environ.pop("_LOCALCLOUD_PARENT_PID", "0") or 0)
    if parent:
        threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()

    from awslambdaric.__main__ import main as run_runtime_client

    run_runtime_client([sys.argv[0], sys.argv[1]])


if __name__ == "__main__":
    main()
