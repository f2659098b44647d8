"""A small function app that exercises devhost in its integration tests.

Queue names come from app settings (`%FAIL_QUEUE%`, ...) so each test run uses its own
queues. Queue and timer functions append what they saw, one JSON line per call, to
`$SAMPLE_RECORD_DIR/<function>.jsonl`, which the tests read.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

_record_lock = threading.Lock()


def record(function: str, **data: Any) -> None:
    folder = os.environ.get("SAMPLE_RECORD_DIR")
    if not folder:
        return
    line = json.dumps({"at": time.time(), **data}) + "\n"
    with _record_lock, open(Path(folder) / f"{function}.jsonl", "a", encoding="utf-8") as fh:
        fh.write(line)


def as_json(data: Any, status: int = 200) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(data), status_code=status, mimetype="application/json")


# --- routing -------------------------------------------------------------------


@app.route(route="echo/{name}", methods=["GET", "POST"])
def echo(req: func.HttpRequest) -> func.HttpResponse:
    return as_json(
        {
            "method": req.method,
            "url": req.url,
            "route": dict(req.route_params),
            "params": dict(req.params),
            "body": req.get_body().decode("utf-8", "replace"),
            "content_type": req.headers.get("content-type"),
        }
    )


@app.route(route="tickets/search", methods=["GET"])
def tickets_search(req: func.HttpRequest) -> func.HttpResponse:
    return as_json({"function": "tickets_search", "route": dict(req.route_params)})


@app.route(route="tickets/{number}", methods=["GET", "PUT"])
def tickets_get(req: func.HttpRequest) -> func.HttpResponse:
    return as_json({"function": "tickets_get", "route": dict(req.route_params)})


@app.route(route="tickets/{number}/attachments/{id}", methods=["GET"])
def attachment_get(req: func.HttpRequest) -> func.HttpResponse:
    return as_json({"function": "attachment_get", "route": dict(req.route_params)})


@app.route(route="items/{id:int}")
def item_by_id(req: func.HttpRequest) -> func.HttpResponse:
    return as_json({"function": "item_by_id", "route": dict(req.route_params)})


@app.route(route="files/{*rest}")
def files(req: func.HttpRequest) -> func.HttpResponse:
    return as_json({"function": "files", "route": dict(req.route_params)})


@app.route(route="pages/{page?}")
def pages(req: func.HttpRequest) -> func.HttpResponse:
    return as_json({"function": "pages", "route": dict(req.route_params)})


@app.function_name("no_route_given")
@app.route(methods=["GET"])
def no_route_given(req: func.HttpRequest) -> func.HttpResponse:
    return as_json({"function": "no_route_given"})


# --- auth levels and the signed-in user ----------------------------------------


@app.route(route="secure", auth_level=func.AuthLevel.FUNCTION)
def secure(req: func.HttpRequest) -> func.HttpResponse:
    return as_json({"function": "secure"})


@app.route(route="admin-only", auth_level=func.AuthLevel.ADMIN)
def admin_only(req: func.HttpRequest) -> func.HttpResponse:
    return as_json({"function": "admin_only"})


@app.route(route="whoami")
def whoami(req: func.HttpRequest) -> func.HttpResponse:
    encoded = req.headers.get("x-ms-client-principal")
    principal = None
    if encoded:
        try:
            principal = json.loads(base64.b64decode(encoded))
        except ValueError:
            principal = {"undecodable": encoded}
    return as_json(
        {
            "principal": principal,
            "id": req.headers.get("x-ms-client-principal-id"),
            "name": req.headers.get("x-ms-client-principal-name"),
            "idp": req.headers.get("x-ms-client-principal-idp"),
        }
    )


# --- responses, errors, context, settings ---------------------------------------


@app.route(route="cookies")
def cookies(req: func.HttpRequest) -> func.HttpResponse:
    response = func.HttpResponse("<p>hi</p>", mimetype="text/html", status_code=201)
    response.headers.add("Set-Cookie", "a=1; Path=/")
    response.headers.add("Set-Cookie", "b=2; Path=/")
    response.headers["X-Sample"] = "yes"
    return response


@app.route(route="boom")
def boom(req: func.HttpRequest) -> func.HttpResponse:
    raise RuntimeError("secret internal detail")


@app.route(route="context")
def context_info(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    return as_json(
        {
            "function_name": context.function_name,
            "invocation_id": context.invocation_id,
            "trace_parent": context.trace_context.trace_parent,
            "thread_invocation_id": getattr(context.thread_local_storage, "invocation_id", None),
        }
    )


@app.route(route="settings")
def settings(req: func.HttpRequest) -> func.HttpResponse:
    return as_json(
        {
            "greeting": os.environ.get("SAMPLE_GREETING"),
            "storage_from_settings": os.environ.get("AzureWebJobsStorage") == "from-settings-file",
        }
    )


@app.route(route="upload", methods=["POST"])
def upload(req: func.HttpRequest) -> func.HttpResponse:
    return as_json({"length": len(req.get_body())})


# --- concurrency ---------------------------------------------------------------


@app.route(route="slow")
def slow(req: func.HttpRequest) -> func.HttpResponse:
    time.sleep(0.5)
    return as_json({"thread": threading.current_thread().name})


@app.route(route="async-slow")
async def async_slow(req: func.HttpRequest) -> func.HttpResponse:
    await asyncio.sleep(0.5)
    return as_json({"thread": threading.current_thread().name})


# --- queues and timers -----------------------------------------------------------


@app.route(route="enqueue", methods=["POST"])
@app.queue_output(arg_name="out", queue_name="%OK_QUEUE%", connection="AzureWebJobsStorage")
def enqueue(req: func.HttpRequest, out: func.Out[str]) -> func.HttpResponse:
    out.set(req.get_body().decode("utf-8"))
    return func.HttpResponse(status_code=202)


@app.queue_trigger(arg_name="msg", queue_name="%FAIL_QUEUE%", connection="AzureWebJobsStorage")
def always_fails(msg: func.QueueMessage) -> None:
    record("always_fails", id=msg.id, body=msg.get_body().decode(), dequeue_count=msg.dequeue_count)
    raise RuntimeError("this function always fails")


@app.queue_trigger(arg_name="msg", queue_name="%OK_QUEUE%", connection="AzureWebJobsStorage")
@app.queue_output(arg_name="out", queue_name="%OUT_QUEUE%", connection="AzureWebJobsStorage")
async def succeeds(msg: func.QueueMessage, out: func.Out[str]) -> None:
    body = msg.get_body().decode()
    record("succeeds", id=msg.id, body=body, dequeue_count=msg.dequeue_count)
    out.set(f"processed:{body}")


@app.timer_trigger(schedule="0 0 0 1 1 *", arg_name="timer", run_on_startup=True)
def startup_timer(timer: func.TimerRequest) -> None:
    record("startup_timer", past_due=timer.past_due)
