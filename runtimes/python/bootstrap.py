"""tether's local Python runtime: runs a developer's Lambda handler against a
Lambda Runtime API (AWS_LAMBDA_RUNTIME_API), the way the managed python
runtimes do. Standard library only; Python 3.9 or later.

    python3 runtimes/python/bootstrap.py

Environment: AWS_LAMBDA_RUNTIME_API (host:port), _HANDLER (module.function,
dotted or slashed packages allowed), LAMBDA_TASK_ROOT (put first on sys.path),
AWS_LAMBDA_FUNCTION_* and AWS_LAMBDA_LOG_* as Lambda sets them, and
TETHER_DEBUGPY_PORT to listen for a debugger. See runtimes/README.md.
"""

import datetime
import decimal
import http.client
import importlib
import importlib.machinery
import json
import logging
import os
import signal
import sys
import time
import traceback

API_PATH = "/2018-06-01/runtime"
ERROR_CONTENT_TYPE = "application/vnd.aws.lambda.error+json"
ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"
THIS_FILE = os.path.abspath(__file__)

_current_request_id = ""


# ------------------------------------------------------------------ Runtime API client


class RuntimeAPIError(Exception):
    pass


class RuntimeClient:
    """One keep-alive HTTP/1.1 connection to the Runtime API, no timeout."""

    def __init__(self, address):
        if address.startswith("["):
            host, _, port = address[1:].partition("]:")
        else:
            host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise RuntimeAPIError("AWS_LAMBDA_RUNTIME_API is not host:port: %r" % address)
        self.host = host
        self.port = int(port)
        self.conn = None
        self.reused = False

    def request(self, method, path, body=None, headers=None):
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port)
                self.reused = False
            try:
                self.conn.request(method, API_PATH + path, body=body, headers=headers or {})
                response = self.conn.getresponse()
                data = response.read()
            except (http.client.HTTPException, ConnectionError, OSError):
                was_reused = self.reused
                self.close()
                # A kept-alive connection the server had closed: once more on a new one.
                if attempt == 1 and was_reused:
                    continue
                raise
            if response.will_close:
                self.close()
            else:
                self.reused = True
            return response.status, response.headers, data
        raise RuntimeAPIError("unreachable")

    def close(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except OSError:
                pass
        self.conn = None

    def next(self):
        try:
            status, headers, body = self.request("GET", "/invocation/next")
        except (http.client.HTTPException, OSError) as e:
            fatal("cannot reach the Runtime API at %s: %s" % (os.environ.get("AWS_LAMBDA_RUNTIME_API"), e))
        if status != 200:
            fatal("GET /invocation/next answered %d: %s" % (status, body[:500].decode("utf-8", "replace")))
        return headers, body

    def _post(self, what, path, body, headers):
        status, _, data = self.request("POST", path, body=body, headers=headers)
        if not 200 <= status < 300:
            _write_log("ERROR", "Runtime API answered %d to %s: %s" % (status, what, data[:500].decode("utf-8", "replace")))
            if status >= 500:
                fatal("the Runtime API reported a non-recoverable error")
        return status

    def post_response(self, request_id, payload):
        return self._post(
            "the response of " + request_id,
            "/invocation/%s/response" % _quote(request_id),
            payload,
            {"Content-Type": "application/json"},
        )

    def post_error(self, request_id, error_body, error_type):
        return self._post(
            "the error of " + request_id,
            "/invocation/%s/error" % _quote(request_id),
            json.dumps(error_body).encode("utf-8"),
            {"Content-Type": ERROR_CONTENT_TYPE, ERROR_TYPE_HEADER: _header_safe(error_type)},
        )

    def post_init_error(self, error_body, error_type):
        return self._post(
            "the init error",
            "/init/error",
            json.dumps(error_body).encode("utf-8"),
            {"Content-Type": ERROR_CONTENT_TYPE, ERROR_TYPE_HEADER: _header_safe(error_type)},
        )


def _quote(value):
    from urllib.parse import quote

    return quote(value, safe="")


def _header_safe(value):
    return "".join(c for c in str(value) if 32 <= ord(c) < 127)


def fatal(why, code=1):
    sys.stderr.write("tether python runtime: %s\n" % why)
    sys.stderr.flush()
    sys.stdout.flush()
    os._exit(code)


# ------------------------------------------------------------------ logging


def _timestamp(seconds=None):
    t = datetime.datetime.fromtimestamp(time.time() if seconds is None else seconds, tz=datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)


def _write_log(level, message):
    stream = sys.stderr if level in ("WARNING", "ERROR", "CRITICAL") else sys.stdout
    if _json_logs():
        line = json.dumps({"timestamp": _timestamp(), "level": level, "message": message,
                           "logger": "tether", "requestId": _current_request_id or None})
    else:
        line = "[%s]\t%s\t%s\t%s" % (level, _timestamp(), _current_request_id, message)
    stream.write(line + "\n")
    stream.flush()


def _json_logs():
    return os.environ.get("AWS_LAMBDA_LOG_FORMAT", "").upper() == "JSON"


class _RequestIdFilter(logging.Filter):
    def filter(self, record):
        record.aws_request_id = _current_request_id
        return True


class _TextFormatter(logging.Formatter):
    def format(self, record):
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        return "[%s]\t%s\t%s\t%s" % (record.levelname, _timestamp(record.created), record.aws_request_id, message)


class _JsonFormatter(logging.Formatter):
    def format(self, record):
        out = {
            "timestamp": _timestamp(record.created),
            "level": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
        }
        if record.aws_request_id:
            out["requestId"] = record.aws_request_id
        if record.exc_info and record.exc_info[0] is not None:
            out["errorType"] = record.exc_info[0].__name__
            out["errorMessage"] = str(record.exc_info[1])
            out["stackTrace"] = traceback.format_tb(record.exc_info[2])
        return json.dumps(out, default=str)


class _SplitStreamHandler(logging.Handler):
    """INFO and below to stdout, WARNING and above to stderr."""

    def emit(self, record):
        try:
            text = self.format(record)
            stream = sys.stderr if record.levelno >= logging.WARNING else sys.stdout
            stream.write(text + "\n")
            stream.flush()
        except Exception:
            self.handleError(record)


def install_logging():
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(line_buffering=True)
        except (AttributeError, ValueError):
            pass
    handler = _SplitStreamHandler()
    handler.addFilter(_RequestIdFilter())
    handler.setFormatter(_JsonFormatter() if _json_logs() else _TextFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    # As on Lambda, the root level stays WARNING unless AWS_LAMBDA_LOG_LEVEL
    # is set with JSON logs.
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper()
    if _json_logs() and level:
        root.setLevel({"TRACE": "DEBUG", "FATAL": "CRITICAL"}.get(level, level))


# ------------------------------------------------------------------ context


class CognitoIdentity:
    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")

    def __init__(self, data):
        data = data if isinstance(data, dict) else {}
        self.cognito_identity_id = data.get("cognitoIdentityId")
        self.cognito_identity_pool_id = data.get("cognitoIdentityPoolId")


class Client:
    __slots__ = ("installation_id", "app_title", "app_version_name", "app_version_code", "app_package_name")

    def __init__(self, data):
        data = data if isinstance(data, dict) else {}
        for name in self.__slots__:
            setattr(self, name, data.get(name))


class ClientContext:
    __slots__ = ("client", "custom", "env")

    def __init__(self, data):
        self.client = Client(data["client"]) if isinstance(data.get("client"), dict) else None
        self.custom = data.get("custom")
        self.env = data.get("env")


def _json_header(value):
    if not value:
        return None
    try:
        return json.loads(value)
    except ValueError:
        import base64

        try:
            return json.loads(base64.b64decode(value))
        except (ValueError, TypeError):
            return None


class LambdaContext:
    def __init__(self, request_id, headers):
        env = os.environ
        self.aws_request_id = request_id
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = headers.get("Lambda-Runtime-Invoked-Function-Arn")
        self.memory_limit_in_mb = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.identity = CognitoIdentity(_json_header(headers.get("Lambda-Runtime-Cognito-Identity")))
        client_context = _json_header(headers.get("Lambda-Runtime-Client-Context"))
        self.client_context = ClientContext(client_context) if isinstance(client_context, dict) else None
        try:
            self._deadline_ms = int(headers.get("Lambda-Runtime-Deadline-Ms") or 0)
        except ValueError:
            self._deadline_ms = 0

    def get_remaining_time_in_millis(self):
        return max(0, self._deadline_ms - int(time.time() * 1000))

    def log(self, message):
        sys.stdout.write(str(message))
        sys.stdout.flush()

    def __repr__(self):
        return "LambdaContext(aws_request_id=%r, function_name=%r, invoked_function_arn=%r)" % (
            self.aws_request_id,
            self.function_name,
            self.invoked_function_arn,
        )


# ------------------------------------------------------------------ handler loading


class InitError(Exception):
    def __init__(self, error_type, message, stack_trace=None):
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.stack_trace = stack_trace or []


def _user_frames(tb):
    """The traceback without this file's frames, formatted like Lambda's stackTrace."""
    frames = [f for f in traceback.extract_tb(tb) if os.path.abspath(f.filename) != THIS_FILE]
    frames = [f for f in frames if not f.filename.startswith("<frozen importlib")]
    return traceback.format_list(frames)


def _relative(path, root):
    try:
        rel = os.path.relpath(path, root)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


# ------------------------------------------------------------------ fresh source

# A cached .pyc is trusted when its recorded source size and mtime (whole
# seconds) match the file. Two saves of a same-sized file within one second
# (a digit changed) would then run the first version after a reload; source
# files changed this recently are therefore compiled from the file itself.
# Older files, the standard library's among them, keep their caches.
_FRESH_SECONDS = 5


class _FreshSourceLoader(importlib.machinery.SourceFileLoader):
    def get_code(self, fullname):
        path = self.get_filename(fullname)
        try:
            recent = time.time() - os.stat(path).st_mtime < _FRESH_SECONDS
        except OSError:
            recent = False
        if recent:
            return self.source_to_code(self.get_data(path), path)
        return super().get_code(fullname)


def install_fresh_source_loader():
    hook = importlib.machinery.FileFinder.path_hook(
        (importlib.machinery.ExtensionFileLoader, importlib.machinery.EXTENSION_SUFFIXES),
        (_FreshSourceLoader, importlib.machinery.SOURCE_SUFFIXES),
        (importlib.machinery.SourcelessFileLoader, importlib.machinery.BYTECODE_SUFFIXES),
    )
    sys.path_hooks.insert(0, hook)
    sys.path_importer_cache.clear()


def load_handler(spec, task_root):
    try:
        module_name, function_name = spec.rsplit(".", 1)
    except ValueError as e:
        raise InitError("Runtime.MalformedHandlerName", "Bad handler '%s': %s" % (spec, e))
    if not module_name or not function_name:
        raise InitError("Runtime.MalformedHandlerName", "Bad handler '%s': expected module.function" % spec)
    module_name = module_name.replace("/", ".")
    try:
        module = importlib.import_module(module_name)
    except SyntaxError as e:
        filename = _relative(e.filename or "?", task_root)
        where = "%s, line %s" % (filename, e.lineno)
        text = (e.text or "").rstrip("\n")
        trace = ['  File "%s" Line %s\n' % (e.filename, e.lineno)]
        if text:
            trace.append("    %s\n" % text.strip())
        raise InitError(
            "Runtime.UserCodeSyntaxError",
            "Syntax error in module '%s': %s (%s)" % (module_name, e.msg, where),
            trace,
        )
    except ImportError as e:
        raise InitError(
            "Runtime.ImportModuleError",
            "Unable to import module '%s': %s" % (module_name, e),
            _user_frames(e.__traceback__),
        )
    except Exception as e:
        raise InitError(type(e).__name__, str(e), _user_frames(e.__traceback__))
    handler = getattr(module, function_name, None)
    if handler is None:
        raise InitError(
            "Runtime.HandlerNotFound",
            "Handler '%s' missing on module '%s'" % (function_name, module_name),
        )
    if not callable(handler):
        raise InitError(
            "Runtime.HandlerNotFound",
            "Handler '%s' on module '%s' is not callable" % (function_name, module_name),
        )
    return handler


# ------------------------------------------------------------------ results


def _json_default(value):
    if isinstance(value, decimal.Decimal):
        return float(value)
    raise TypeError("Object of type %s is not JSON serializable" % type(value).__name__)


def to_json(result):
    return json.dumps(result, default=_json_default, ensure_ascii=False).encode("utf-8")


def error_body(exc, request_id):
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "requestId": request_id,
        "stackTrace": _user_frames(exc.__traceback__),
    }


def _report(body):
    lines = ["%s: %s" % (body["errorType"], body["errorMessage"])]
    if body.get("stackTrace"):
        lines.append("Traceback (most recent call last):")
        lines.extend(line.rstrip("\n") for line in body["stackTrace"])
    _write_log("ERROR", "\n".join(lines))


def invoke(client, handler, headers, body):
    global _current_request_id
    request_id = headers.get("Lambda-Runtime-Aws-Request-Id") or ""
    _current_request_id = request_id
    trace_id = headers.get("Lambda-Runtime-Trace-Id")
    if trace_id:
        os.environ["_X_AMZN_TRACE_ID"] = trace_id
    else:
        os.environ.pop("_X_AMZN_TRACE_ID", None)
    try:
        event = json.loads(body)
    except ValueError as e:
        err = {"errorMessage": "Unable to parse the event as JSON: %s" % e, "errorType": "Runtime.UnmarshalError",
               "requestId": request_id, "stackTrace": []}
        _report(err)
        client.post_error(request_id, err, err["errorType"])
        return
    context = LambdaContext(request_id, headers)
    try:
        result = handler(event, context)
    except Exception as e:
        err = error_body(e, request_id)
        _report(err)
        client.post_error(request_id, err, err["errorType"])
        return
    try:
        payload = to_json(result)
    except (TypeError, ValueError, OverflowError) as e:
        err = {"errorMessage": "Unable to marshal response: %s" % e, "errorType": "Runtime.MarshalError",
               "requestId": request_id, "stackTrace": []}
        _report(err)
        client.post_error(request_id, err, err["errorType"])
        return
    client.post_response(request_id, payload)


# ------------------------------------------------------------------ main


def start_debugger():
    port = os.environ.get("TETHER_DEBUGPY_PORT")
    if not port:
        return
    host = os.environ.get("TETHER_DEBUGPY_HOST", "127.0.0.1")
    try:
        import debugpy
    except ImportError:
        sys.stderr.write(
            "tether: TETHER_DEBUGPY_PORT=%s is set but debugpy is not installed for %s; "
            "running without a debugger (install it with: %s -m pip install debugpy)\n"
            % (port, sys.executable, sys.executable)
        )
        return
    try:
        debugpy.listen((host, int(port)))
    except Exception as e:  # a busy port must not stop the function
        sys.stderr.write("tether: debugpy could not listen on %s:%s: %s; running without a debugger\n" % (host, port, e))
        return
    sys.stderr.write("tether: debugpy listening on %s:%s (attach at any time; not waiting)\n" % (host, port))


def _on_sigterm(signum, frame):
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(0)


def wait_if_standby():
    """A warm standby (tether dev, TETHER_STANDBY=1) loads the handler only
    when tether writes a byte to its standard input (or closes it), after a
    change has stopped the function's other workers, so it loads the new
    code. The variable goes, so the handler never sees it.
    src/lambda/standby.h."""
    standby = os.environ.pop("TETHER_STANDBY", "") == "1"
    if not standby:
        return
    try:
        os.read(0, 1)
    except OSError:
        pass  # no usable standard input: load at once, like a cold start
    # Files the task root gained while waiting must be seen by the import.
    importlib.invalidate_caches()


def main():
    global _current_request_id
    signal.signal(signal.SIGTERM, _on_sigterm)
    install_logging()
    try:
        client = RuntimeClient(os.environ.get("AWS_LAMBDA_RUNTIME_API", ""))
    except RuntimeAPIError as e:
        fatal(str(e), 2)

    task_root = os.path.abspath(os.environ.get("LAMBDA_TASK_ROOT") or os.getcwd())
    # The task root first, and not this shim's own directory.
    here = os.path.dirname(THIS_FILE)
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    sys.path.insert(0, task_root)
    install_fresh_source_loader()

    start_debugger()
    wait_if_standby()

    try:
        handler = load_handler(os.environ.get("_HANDLER", ""), task_root)
    except InitError as e:
        body = {"errorMessage": e.message, "errorType": e.error_type, "requestId": "", "stackTrace": e.stack_trace}
        _report(body)
        try:
            client.post_init_error(body, e.error_type)
        except (http.client.HTTPException, OSError) as post_error:
            sys.stderr.write("tether python runtime: could not post the init error: %s\n" % post_error)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(1)

    while True:
        headers, body = client.next()
        try:
            invoke(client, handler, headers, body)
        except (http.client.HTTPException, OSError) as e:
            fatal("lost the Runtime API: %s" % e)
        _current_request_id = ""


if __name__ == "__main__":
    main()
