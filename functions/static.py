"""Static files of the agent pages and the portal: our own CSS and scripts, served by the
app itself (no CDN), from `functions/static/`.

Files are kept in memory once read, keyed by the file they resolve to: a miss is never
kept and the many spellings of one path (`a/../ui.css`) share one entry, so the cache
holds at most the folder's files, whatever paths strangers ask for.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

import azure.functions as func

bp = func.Blueprint()

STATIC_DIR = Path(__file__).parent / "static"
TYPES = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml",
         ".png": "image/png", ".ico": "image/x-icon", ".woff2": "font/woff2"}


# A guard on top of keying by the resolved file: past this many entries files are read
# from disk each time rather than kept (the folder holds a few dozen).
MAX_CACHED = 256
_cache: dict[Path, bytes] = {}


def _read(relative: str) -> bytes | None:
    root = STATIC_DIR.resolve()
    try:
        path = (root / relative).resolve()
        if path in _cache:
            return _cache[path]
        if root not in path.parents or not path.is_file():
            return None
        data = path.read_bytes()
    except (OSError, ValueError):  # a name too long for the file system, a NUL byte
        return None
    if len(_cache) < MAX_CACHED:
        _cache[path] = data
    return data


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
