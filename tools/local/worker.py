"""One Lambda function's container, on this machine: the handler behind a local invoke API.

Run by ``tools.local.functions`` as ``python tools/local/worker.py`` (never imported by it), with
the function's package and settings in the environment, the way Lambda runs a handler:

- ``LOCAL_CODE_ROOT`` is the unpacked deployment package (the handler module at its root);
  ``LOCAL_HANDLER`` is the handler setting (``app.handler``).
- ``LOCAL_ALLOWED_MODULES`` lists the top-level modules that may come from this Python's
  site-packages: those of the function's layers, of the Lambda runtime (boto3 and its
  dependencies) and, for edge functions, none beyond what the package bundles. Any other import
  that would come from site-packages fails as it would in Lambda, so a library missing from a
  layer or a package is found here, not at the first ``pulumi up``.
- ``LOCAL_BOOT`` names a module run before the handler is imported (``tools.local.iam``'s
  hook, which checks every AWS call against the function's role), with ``LOCAL_BOOT_PATH`` on
  the path for it only.
- The listening socket is inherited as file descriptor ``LOCAL_SOCKET_FD``.
- The worker ends when its parent does, so nothing outlives local mode.

The invoke API is the Lambda Runtime Interface Emulator's:
``POST /2015-03-31/functions/function/invocations`` with the event as the body answers the
handler's result as JSON, or an error document (``errorMessage``, ``errorType``,
``stackTrace``) with ``X-Amz-Function-Error: Unhandled``. One invocation at a time, as in a
Lambda execution environment. ``GET /local/ready`` answers once the handler module is imported
(or failed to import), so the parent can tell the init phase from the invocation. The handler's
own output (logs, metrics) goes to stdout and stderr, which the parent prefixes with the
function's name.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import json
import os
import socket
import sys
import sysconfig
import threading
import time
import traceback
import uuid
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import ModuleType
from typing import Any

INVOKE_PATH = "/2015-03-31/functions/function/invocations"
READY_PATH = "/local/ready"


class OnlyDeployedModules(importlib.abc.MetaPathFinder):
    """Refuses site-packages modules that the function's package and layers would not have."""

    def __init__(self, allowed: frozenset[str], site_packages: Sequence[str]) -> None:
        self.allowed = allowed
        self.site_packages = tuple(site_packages)

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        top = fullname.partition(".")[0]
        if path is not None or top in self.allowed or top in sys.stdlib_module_names:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, sys.path)
        origin = (spec.origin or "") if spec else ""
        locations = list(spec.submodule_search_locations or []) if spec else []
        if any(place.startswith(self.site_packages) for place in (origin, *locations) if place):
            raise ModuleNotFoundError(
                f"No module named {fullname!r}: it is not in the function's package or layers "
                "(local mode allows only what Lambda would have)", name=fullname)
        return None


class Context:
    """The Lambda context object: names, memory, request id and the time left."""

    def __init__(self, request_id: str, deadline: float) -> None:
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = os.environ["LOCAL_FUNCTION_ARN"]
        self.memory_limit_in_mb = int(os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
        self.aws_request_id = request_id
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.time()) * 1000))


def _load_handler() -> Any:
    module_name, _, function_name = os.environ["LOCAL_HANDLER"].rpartition(".")
    return getattr(importlib.import_module(module_name), function_name)


def _error_document(error: BaseException) -> dict[str, Any]:
    return {"errorMessage": str(error), "errorType": type(error).__name__,
            "stackTrace": traceback.format_tb(error.__traceback__)}


def serve(handler: Any, listening: socket.socket, init_error: dict[str, Any] | None) -> None:
    """Answers invocations on ``listening`` until the parent stops the process; after an
    initialisation error, every invocation answers that error, as Lambda does."""

    class Invocations(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._answer(200 if self.path == READY_PATH else 404, {"ready": init_error is None})

        def do_POST(self) -> None:
            if self.path != INVOKE_PATH:
                self._answer(404, {"message": f"no route {self.path}"})
                return
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            request_id = self.headers.get("X-Amz-Request-Id") or str(uuid.uuid4())
            deadline = float(self.headers.get("X-Local-Deadline") or time.time() + 900)
            if init_error is not None:
                self._answer(200, init_error, function_error=True)
                return
            try:
                result = handler(json.loads(body or b"null"), Context(request_id, deadline))
                self._answer(200, result)
            except Exception as error:  # noqa: BLE001 (Lambda reports any error the same way)
                traceback.print_exc()
                self._answer(200, _error_document(error), function_error=True)

        def _answer(self, status: int, document: Any, *, function_error: bool = False) -> None:
            payload = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            if function_error:
                self.send_header("X-Amz-Function-Error", "Unhandled")
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the handler's own logs are the function's logs

    server = HTTPServer(listening.getsockname(), Invocations, bind_and_activate=False)
    server.socket = listening
    server.serve_forever()


def exit_with_parent(interval: float = 1.0) -> None:
    """Ends this process when local mode's process ends, however it ended (a crash or a kill
    leaves no worker behind)."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main() -> None:
    exit_with_parent()
    listening = socket.socket(fileno=int(os.environ["LOCAL_SOCKET_FD"]))
    # Nothing of this directory (tools/local) is the function's: only its package and the
    # modules Lambda would give it.
    sys.path[:] = [os.environ["LOCAL_CODE_ROOT"],
                   *[path for path in sys.path[1:] if path]]
    site_packages = [sysconfig.get_paths()[key] for key in ("purelib", "platlib")]
    allowed = frozenset(filter(None, os.environ.get("LOCAL_ALLOWED_MODULES", "").split(",")))
    boot = os.environ.get("LOCAL_BOOT")
    if boot:
        sys.path.append(os.environ["LOCAL_BOOT_PATH"])
        importlib.import_module(boot).boot()
        sys.path.remove(os.environ["LOCAL_BOOT_PATH"])
    sys.meta_path.insert(0, OnlyDeployedModules(allowed, site_packages))
    handler, init_error = None, None
    try:
        handler = _load_handler()
    except Exception as error:  # noqa: BLE001 (an init error answers every invocation)
        traceback.print_exc()
        init_error = _error_document(error) | {"errorType": "Runtime.ImportModuleError"}
    serve(handler, listening, init_error)


if __name__ == "__main__":
    main()
