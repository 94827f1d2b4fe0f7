"""Schemathesis hooks for `cargo xtask fuzz`, loaded through SCHEMATHESIS_HOOKS.

xtask starts a throwaway server with one admin, logs in, and passes in the environment
FUZZ_BASE_URL (http://127.0.0.1:PORT), FUZZ_TOKEN (the admin's token), FUZZ_USERNAME and
FUZZ_PASSWORD (to log in again).

- Every request carries the admin's token (the role that may call every route), except
  `POST /auth/logout`: it revokes the token it is sent with, so each logout is sent a token of
  its own, fresh from a login, and the shared token stays valid for the whole run.
- A generation job the fuzzer starts (`POST /movies/generate/{number}`, up to 1,000,000 rows) is
  cancelled as soon as it is accepted, so it writes at most one batch: the request and its answer
  are still checked, but a few of them no longer keep both cores busy for the rest of the run.
- Two checks of our own, named in xtask's `--checks`: `valid_token_accepted` (a token known to be
  valid is never answered 401: otherwise the run could silently go 401-only) and
  `EveryOperationTested` (every operation in the document was called at least once; xtask leaves
  it out when its ARGS narrow the run to some operations).
"""

import json
import os
import re
import threading
import urllib.error
import urllib.request

import schemathesis

BASE_URL = os.environ["FUZZ_BASE_URL"]
ADMIN_TOKEN = os.environ["FUZZ_TOKEN"]
USERNAME = os.environ["FUZZ_USERNAME"]
PASSWORD = os.environ["FUZZ_PASSWORD"]

LOGOUT_PATH = r"^/auth/logout/?$"
GENERATE_PATH = r"^/(movies|characters)/generate/\{[^}]+\}/?$"

_lock = threading.Lock()
# How many times each fresh logout token was sent: a replay of a logout (schemathesis re-runs a
# failing case) meets a token the first call revoked, and that 401 is right.
_fresh_tokens_sent = {}
_all_operations = set()


def _call(method, path, token=None, body=None):
    """One request to the server under test; returns (status, parsed JSON or None)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(BASE_URL + path, data=data, method=method)
    if body is not None:
        request.add_header("Content-Type", "application/json")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def _bearer(case, token):
    case.headers = case.headers or {}
    case.headers["Authorization"] = f"Bearer {token}"


def _is(case, method, path_regex):
    operation = case.operation
    return operation.method.upper() == method and re.match(path_regex, operation.path) is not None


@schemathesis.auth(refresh_interval=None).apply_to(method="POST", path_regex=LOGOUT_PATH)
class FreshToken:
    """A token of its own for each logout, from a new login."""

    def get(self, case, context):
        status, body = _call(
            "POST", "/auth/login/", body={"username": USERNAME, "hashedPassword": PASSWORD}
        )
        if status != 200 or not isinstance(body, dict) or "token" not in body:
            raise RuntimeError(f"logging in for a logout token: {status} {body}")
        with _lock:
            _fresh_tokens_sent[body["token"]] = 0
        return body["token"]

    def set(self, case, data, context):
        _bearer(case, data)


# No caching and so no re-login on a 401 (schemathesis' reactive re-auth): the token does not
# expire during a run, and a 401 for it must show up as a failure, not be papered over.
@schemathesis.auth(refresh_interval=None).skip_for(method="POST", path_regex=LOGOUT_PATH)
class AdminToken:
    """The admin's token, from xtask."""

    def get(self, case, context):
        return ADMIN_TOKEN

    def set(self, case, data, context):
        _bearer(case, data)


@schemathesis.hook
def after_load_schema(context, schema):
    for result in schema.get_all_operations():
        if hasattr(result, "ok"):
            _all_operations.add(result.ok().label)


@schemathesis.hook
def before_call(context, case, kwargs):
    token = _sent_token(case.headers)
    with _lock:
        if token in _fresh_tokens_sent:
            _fresh_tokens_sent[token] += 1


@schemathesis.hook
def after_call(context, case, response):
    if response.status_code != 202 or not _is(case, "POST", GENERATE_PATH):
        return
    job_id = response.json().get("jobId")
    status, body = _call("DELETE", f"/jobs/{job_id}", token=ADMIN_TOKEN)
    if status != 200:
        raise RuntimeError(f"cancelling job {job_id} after {case.operation.label}: {status} {body}")


def _sent_token(headers):
    for name, value in (headers or {}).items():
        if name.lower() == "authorization" and isinstance(value, str):
            return value.removeprefix("Bearer ")
    return None


def _needs_token(operation):
    """Whether the document says the operation needs a token (public ones ignore the header)."""
    security = operation.definition.raw.get("security", operation.schema.raw_schema.get("security"))
    return bool(security)


@schemathesis.check
def valid_token_accepted(ctx, response, case):
    """An operation that needs a token does not answer 401 to one known to be valid."""
    if response.status_code != 401 or not _needs_token(case.operation):
        return None
    token = _sent_token(response.request.headers)
    with _lock:
        fresh_first_use = _fresh_tokens_sent.get(token) == 1
    if token == ADMIN_TOKEN or fresh_first_use:
        raise AssertionError(
            "A valid token was refused with 401: was it revoked, or did the admin lose its account?"
        )
    return None


@schemathesis.check
class EveryOperationTested:
    """Every operation of the document got at least one answer."""

    def __init__(self):
        self.tested = set()

    def after_response(self, ctx, response, case):
        with _lock:
            self.tested.add(case.operation.label)

    def after_run(self, ctx):
        missing = sorted(_all_operations - self.tested)
        if missing:
            raise AssertionError("Operations never called: " + ", ".join(missing))
