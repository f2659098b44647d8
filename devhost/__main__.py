"""`python -m devhost`: run a function app locally until Ctrl-C or SIGTERM.

    python -m devhost [--app-dir DIR] [--host 127.0.0.1] [--port 7071]
                      [--settings FILE] [--keys-file FILE] [--grace SECONDS]
                      [--no-auth]

`--port` defaults to local.settings.json's `Host.LocalHttpPort`, else 7071; `0` picks
a free port (the ready line says which). The banner and the ready line go to stdout,
logs (one line per invocation, tracebacks) to stderr.

Exit codes: 0 after a clean or signalled stop, 2 when the app cannot be loaded.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

from devhost.host import Host
from devhost.keys import KeysError
from devhost.loader import LoadError

log = logging.getLogger("devhost")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m devhost", description="Run an Azure Functions (Python v2) app locally."
    )
    parser.add_argument("--app-dir", default=".", help="folder holding function_app.py (default .)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help="port (default: Host.LocalHttpPort in the settings file, else 7071; 0: any free port)",
    )
    parser.add_argument("--settings", default=None, help="default: APP_DIR/local.settings.json")
    parser.add_argument("--keys-file", default=None, help="default: APP_DIR/.devhost/keys.json")
    parser.add_argument(
        "--grace",
        type=float,
        default=10.0,
        help="seconds running functions get to finish at shutdown (default 10)",
    )
    parser.add_argument(
        "--no-auth",
        action="store_true",
        help="no App Service Authentication emulation: no /.auth/ sign-in, client headers "
        "passed on as sent (an App Service without Authentication)",
    )
    return parser.parse_args(argv)


def configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # The Azure SDK logs every storage request at INFO; polling would drown the app's logs.
    logging.getLogger("azure").setLevel(logging.WARNING)


async def serve(args: argparse.Namespace) -> bool:
    """Run until a signal; return whether shutdown finished cleanly."""
    host = Host(
        Path(args.app_dir),
        host=args.host,
        port=args.port,
        settings_file=args.settings,
        keys_file=args.keys_file,
        grace=args.grace,
        emulate_auth=not args.no_auth,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal(signum: int) -> None:
        if stop.is_set():
            # A second Ctrl-C: the user does not want to wait for running functions.
            os._exit(130)
        log.info("received %s; shutting down", signal.Signals(signum).name)
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        await host.start()
    except BaseException:
        await host.stop()
        raise
    await stop.wait()
    return await host.stop()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging()
    try:
        clean = asyncio.run(serve(args))
    except (LoadError, KeysError, OSError) as exc:  # OSError: e.g. the port is taken
        print(f"devhost: {exc}", file=sys.stderr)
        return 2
    if not clean:
        # A sync function is still running in a pool thread; waiting for it at interpreter
        # exit would hang, and the grace period is over.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
