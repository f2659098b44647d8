"""Static files of the agent pages and the portal: our own CSS and scripts, served by the
app itself (no CDN), from `functions/static/`."""

from __future__ import annotations

import mimetypes
from functools import cache
from pathlib import Path

import azure.functions as func

bp = func.Blueprint()

STATIC_DIR = Path(__file__).parent / "static"
TYPES = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml",
         ".png": "image/png", ".ico": "image/x-icon", ".woff2": "font/woff2"}


@cache
def _read(relative: str) -> bytes | None:
    root = STATIC_DIR.resolve()
    try:
        path = (root / relative).resolve()
        if root not in path.parents or not path.is_file():
            return None
        return path.read_bytes()
    except (OSError, ValueError):  # a name too long for the file system, a NUL byte
        return None


@bp.function_name("static_files")
@bp.route(route="static/{*path}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def static_files(req: func.HttpRequest) -> func.HttpResponse:
    relative = req.route_params.get("path", "")
    data = _read(relative) if relative and "\\" not in relative else None
    if data is None:
        return func.HttpResponse("Not found", status_code=404, mimetype="text/plain")
    suffix = Path(relative).suffix.lower()
    mimetype = TYPES.get(suffix) or mimetypes.guess_type(relative)[0] or "application/octet-stream"
    return func.HttpResponse(data, status_code=200, mimetype=mimetype, headers={
        "Cache-Control": "public, max-age=300",
        "X-Content-Type-Options": "nosniff",
    })
