"""aloft's Python runtime interface client.

The loop AWS Lambda's Python runtime runs, written against the Lambda Runtime
API with the standard library only (Python 3.8 and later). aloft writes this
file to its cache and starts it as `python3.X -u bootstrap.py` with
AWS_LAMBDA_RUNTIME_API, _HANDLER and LAMBDA_TASK_ROOT set.

_HANDLER is "package/module.function" or "package.module.function"; errors are
sent as {errorMessage, errorType, requestId, stackTrace}, as Lambda sends them.
"""

import importlib
import json
import logging
import os
import socket
import sys
import time
import traceback

API = os.environ["AWS_LAMBDA_RUNTIME_API"]
BASE = "/2018-06-01/runtime"


class RuntimeAPI:
    """One keep-alive HTTP/1.1 connection to the Runtime API.

    A few lines over a socket rather than http.client, whose import (the email
    package) would add tens of milliseconds to every cold start.
    """

    def __init__(self, address):
        host, _, port = address.rpartition(":")
        self.addr = (host, int(port))
        self.sock = None
        self.buf = b""

    def _connect(self):
        self.sock = socket.create_connection(self.addr)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def _read_until(self, sep):
        while sep not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("Runtime API closed the connection")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(sep)
        return line

    def _read_exactly(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(max(65536, n - len(self.buf)))
            if not chunk:
                raise ConnectionError("Runtime API closed the connection")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def call(self, method, path, body=None, headers=None):
        if self.sock is None:
            self._connect()
        lines = ["{} {}{} HTTP/1.1".format(method, BASE, path), "Host: {}:{}".format(*self.addr)]
        for k, v in (headers or {}).items():
            lines.append("{}: {}".format(k, v))
        if body is not None:
            lines.append("Content-Type: application/json")
            lines.append("Content-Length: {}".format(len(body)))
        req = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")
        self.sock.sendall(req)
        status_line = self._read_until(b"\r\n").decode("latin-1")
        status = int(status_line.split(" ", 2)[1])
        resp_headers = Headers()
        while True:
            line = self._read_until(b"\r\n").decode("latin-1")
            if not line:
                break
            k, _, v = line.partition(":")
            resp_headers[k.strip()] = v.strip()
        if resp_headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self._read_until(b"\r\n").split(b";")[0], 16)
                if size == 0:
                    while self._read_until(b"\r\n"):
                        pass  # trailers
                    break
                parts.append(self._read_exactly(size))
                self._read_until(b"\r\n")
            data = b"".join(parts)
        else:
            data = self._read_exactly(int(resp_headers.get("Content-Length") or 0))
        if resp_headers.get("Connection", "").lower() == "close":
            self.sock.close()
            self.sock = None
        return status, resp_headers, data

    def post_error(self, path, doc):
        body = json.dumps(doc).encode()
        self.call("POST", path, body, {"Lambda-Runtime-Function-Error-Type": doc.get("errorType", "Unhandled")})


class Headers(dict):
    """Response headers, looked up without regard to case."""

    def __setitem__(self, key, value):
        dict.__setitem__(self, key.lower(), value)

    def get(self, key, default=None):
        return dict.get(self, key.lower(), default)


class LambdaContext:
    """The context object Lambda passes to Python handlers."""

    def __init__(self, headers):
        self.aws_request_id = headers.get("Lambda-Runtime-Aws-Request-Id")
        self.invoked_function_arn = headers.get("Lambda-Runtime-Invoked-Function-Arn")
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self._deadline_ms = int(headers.get("Lambda-Runtime-Deadline-Ms") or 0)
        self.client_context = _client_context(_json_or_none(headers.get("Lambda-Runtime-Client-Context")))
        self.identity = _cognito_identity(_json_or_none(headers.get("Lambda-Runtime-Cognito-Identity")))

    def get_remaining_time_in_millis(self):
        return max(0, self._deadline_ms - int(time.time() * 1000))

    def __repr__(self):
        return "LambdaContext([aws_request_id={},function_name={}])".format(self.aws_request_id, self.function_name)


class _Attrs:
    """A plain object with the attributes it is given."""

    def __init__(self, **kw):
        self.__dict__.update(kw)

    def __repr__(self):
        return "{}({})".format(type(self).__name__, self.__dict__)


class Client(_Attrs):
    pass


class ClientContext(_Attrs):
    pass


class CognitoIdentity(_Attrs):
    pass


def _client_context(doc):
    """Lambda's context.client_context: client, custom and env attributes."""
    if not isinstance(doc, dict):
        return None
    c = doc.get("client") or {}
    client = Client(installation_id=c.get("installation_id"), app_title=c.get("app_title"),
                    app_version_name=c.get("app_version_name"), app_version_code=c.get("app_version_code"),
                    app_package_name=c.get("app_package_name")) if c else None
    return ClientContext(client=client, custom=doc.get("custom"), env=doc.get("env"))


def _cognito_identity(doc):
    """Lambda's context.identity: always present, fields None when unset."""
    doc = doc if isinstance(doc, dict) else {}
    return CognitoIdentity(cognito_identity_id=doc.get("cognitoIdentityId"),
                           cognito_identity_pool_id=doc.get("cognitoIdentityPoolId"))


def _json_or_none(value):
    if not value:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return None


class HandlerError(Exception):
    def __init__(self, error_type, message):
        Exception.__init__(self, message)
        self.error_type = error_type


def error_document(exc, request_id=None, error_type=None):
    tb = traceback.extract_tb(exc.__traceback__)
    doc = {
        "errorMessage": str(exc),
        "errorType": error_type or getattr(exc, "error_type", None) or type(exc).__name__,
        "stackTrace": traceback.format_list(tb),
    }
    if request_id:
        doc["requestId"] = request_id
    return doc


def load_handler(handler):
    modname, _, fname = handler.rpartition(".")
    if not modname or not fname:
        raise HandlerError("Runtime.MalformedHandlerName", "Bad handler '{}': not enough values to unpack".format(handler))
    modname = modname.replace("/", ".")
    try:
        module = importlib.import_module(modname)
    except ImportError as e:
        raise HandlerError("Runtime.ImportModuleError", "Unable to import module '{}': {}".format(modname, e))
    except SyntaxError as e:
        raise HandlerError("Runtime.UserCodeSyntaxError", "Syntax error in module '{}': {}".format(modname, e))
    fn = getattr(module, fname, None)
    if fn is None:
        raise HandlerError("Runtime.HandlerNotFound", "Handler '{}' missing on module '{}'".format(fname, modname))
    return fn


class _RequestIdFilter(logging.Filter):
    request_id = None

    def filter(self, record):
        record.aws_request_id = _RequestIdFilter.request_id
        return True


def setup_logging():
    handler = logging.StreamHandler(sys.stdout)
    handler.addFilter(_RequestIdFilter())
    fmt = logging.Formatter("[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s", "%Y-%m-%dT%H:%M:%S")
    fmt.converter = time.gmtime
    handler.setFormatter(fmt)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)


def log_error(doc):
    lines = ["[ERROR] {}: {}".format(doc["errorType"], doc["errorMessage"])]
    if doc.get("stackTrace"):
        lines.append("Traceback (most recent call last):")
        lines.extend(s.rstrip("\n") for s in doc["stackTrace"])
    sys.stdout.write("\n".join(lines) + "\n")


def main():
    setup_logging()
    client = RuntimeAPI(API)
    task_root = os.environ.get("LAMBDA_TASK_ROOT") or os.getcwd()
    if task_root not in sys.path:
        sys.path.insert(0, task_root)
    try:
        handler = load_handler(os.environ.get("_HANDLER", ""))
    except Exception as e:  # noqa: BLE001 - every import failure is an init error
        doc = error_document(e)
        if not isinstance(e, HandlerError):
            doc["errorType"] = "Runtime.ImportModuleError"
        log_error(doc)
        client.post_error("/init/error", doc)
        sys.exit(1)

    while True:
        status, headers, body = client.call("GET", "/invocation/next")
        if status != 200:
            sys.stderr.write("aloft runtime: invocation/next answered {}: {!r}\n".format(status, body))
            sys.exit(1)
        request_id = headers.get("Lambda-Runtime-Aws-Request-Id")
        trace = headers.get("Lambda-Runtime-Trace-Id")
        if trace:
            os.environ["_X_AMZN_TRACE_ID"] = trace
        else:
            os.environ.pop("_X_AMZN_TRACE_ID", None)
        _RequestIdFilter.request_id = request_id
        try:
            event = json.loads(body or b"null")
        except ValueError as e:
            client.post_error("/invocation/{}/error".format(request_id),
                              error_document(e, request_id, "Runtime.UnmarshalError"))
            continue
        try:
            result = handler(event, LambdaContext(headers))
        except Exception as e:  # noqa: BLE001 - a handler's exception is its error
            doc = error_document(e, request_id)
            log_error(doc)
            client.post_error("/invocation/{}/error".format(request_id), doc)
            continue
        try:
            out = json.dumps(result).encode()
        except (TypeError, ValueError) as e:
            doc = {"errorMessage": "Unable to marshal response: {}".format(e), "errorType": "Runtime.MarshalError",
                   "requestId": request_id, "stackTrace": []}
            log_error(doc)
            client.post_error("/invocation/{}/error".format(request_id), doc)
            continue
        client.call("POST", "/invocation/{}/response".format(request_id), out)


if __name__ == "__main__":
    main()
