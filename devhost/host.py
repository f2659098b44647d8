"""`Host`: one running function app, with start and stop.

Start order: settings into the environment (never overriding), host.json, keys,
import the app and read its registry once, then the HTTP listener, the queue pollers
and the timers, then the banner and the `devhost ready on http://HOST:PORT` line
that scripts and tests wait for.

A function devhost cannot run (a queue trigger whose connection setting is missing,
an unreadable schedule, an unknown trigger type) is listed as disabled in the banner,
as the real host marks it in error, and the rest of the app still starts.

Stop order: stop taking work (listener closed, pollers stop receiving, timers stop),
let running invocations finish within `grace` seconds, cancel the rest, close the
queue clients. `stop()` returns False when a sync function was still running.

    host = Host(app_dir="tests/devhost/sample_app", port=0)
    await host.start()
    ...  # host.port is the bound port
    await host.stop()
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TextIO

from aiohttp import web

from devhost import __version__
from devhost.easyauth import EasyAuth
from devhost.functions import (
    HTTP_TRIGGER,
    QUEUE_TRIGGER,
    TIMER_TRIGGER,
    FunctionSpec,
    build_spec,
    unsupported_parts,
)
from devhost.http_server import HttpFrontDoor
from devhost.invoker import Invoker, make_pool
from devhost.keys import keys_summary, level_name, load_or_create_keys
from devhost.loader import (
    HostConfig,
    LoadError,
    apply_settings,
    load_registry,
    read_host_config,
    read_local_settings,
)
from devhost.queues import QueueConfigError, QueueConnections, QueueOutputs, QueuePoller
from devhost.timers import Schedule, ScheduleError, TimerScheduler, parse_schedule

log = logging.getLogger("devhost")

DEFAULT_PORT = 7071
AUTH_ENABLED_SETTING = "WEBSITE_AUTH_ENABLED"


class Host:
    """A local Functions host for the app in app_dir."""

    def __init__(
        self,
        app_dir: str | Path = ".",
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        settings_file: str | Path | None = None,
        keys_file: str | Path | None = None,
        grace: float = 10.0,
        out: TextIO | None = None,
        emulate_auth: bool = True,
    ) -> None:
        self.app_dir = Path(app_dir).resolve()
        self.host = host
        self.port = port
        self._settings_file = Path(settings_file) if settings_file else None
        self._keys_file = Path(keys_file) if keys_file else self.app_dir / ".devhost" / "keys.json"
        self._grace = grace
        self._emulate_auth = emulate_auth
        self._out = out or sys.stdout
        self.specs: list[FunctionSpec] = []
        self._runner: web.AppRunner | None = None
        self._pollers: list[QueuePoller] = []
        self._timers: TimerScheduler | None = None
        self._connections: QueueConnections | None = None
        self._invoker: Invoker | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._started = False

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host  # an IPv6 literal
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        """Load the app and start serving; LoadError/KeysError/OSError if it cannot."""
        settings_path = self._settings_file or self.app_dir / "local.settings.json"
        settings = read_local_settings(settings_path, required=self._settings_file is not None)
        apply_settings(settings.values)
        # App Service sets this for the app exactly when its Authentication is on; the
        # app believes the principal header only then (shared/core/auth.py).
        if self._emulate_auth:
            os.environ[AUTH_ENABLED_SETTING] = "True"
        else:
            os.environ.pop(AUTH_ENABLED_SETTING, None)
        config = read_host_config(self.app_dir / "host.json")
        keys, keys_created = load_or_create_keys(self._keys_file)
        if self.port is None:
            self.port = settings.local_http_port or DEFAULT_PORT

        # The registry is read exactly once: FunctionApp.get_functions() raises if repeated.
        self.specs = [build_spec(fn) for fn in load_registry(self.app_dir)]
        # Created after the settings are applied: PYTHON_THREADPOOL_THREAD_COUNT may be one.
        self._pool = make_pool()
        self._connections = connections = QueueConnections()
        self._invoker = invoker = Invoker(
            self._pool, QueueOutputs(connections, config.queues.message_encoding)
        )
        disabled = self._unsupported()
        for name, reason in disabled.items():
            log.error("Function %s is disabled: %s", name, reason)
        switched_off = disabled_by_settings(self.specs)
        for name, reason in switched_off.items():
            log.info("Function %s is disabled: %s", name, reason)
        disabled.update(switched_off)
        self._pollers, timers = self._plan_triggers(config, connections, invoker, disabled)

        front = HttpFrontDoor(
            [s for s in self.specs if s.trigger_type == HTTP_TRIGGER and s.name not in disabled],
            route_prefix=config.route_prefix,
            keys=keys,
            invoker=invoker,
            easyauth=EasyAuth(),
            emulate_auth=self._emulate_auth,
            admin_specs=[s for s in self.specs if s.trigger_type != HTTP_TRIGGER],
        )
        self._runner = web.AppRunner(
            front.application(), access_log=None, shutdown_timeout=self._grace
        )
        await self._runner.setup()
        self._started = True  # from here on, stop() has something to release
        await web.TCPSite(self._runner, self.host, self.port).start()
        addresses = self._runner.addresses
        if addresses:
            self.port = addresses[0][1]  # the real port when asked for port 0

        self._print_banner(
            front, timers, disabled, keys_summary(keys, self._keys_file, keys_created)
        )
        for poller in self._pollers:
            poller.start()
        self._timers = TimerScheduler(invoker, timers)
        self._timers.start()
        self._emit(f"devhost ready on {self.url}")

    def _unsupported(self) -> dict[str, str]:
        """Warn about bindings devhost cannot emulate; return functions that cannot run."""
        disabled: dict[str, str] = {}
        for spec in self.specs:
            for note in unsupported_parts(spec):
                log.warning("%s: %s", spec.name, note)
                if spec.trigger_type not in (HTTP_TRIGGER, QUEUE_TRIGGER, TIMER_TRIGGER):
                    disabled[spec.name] = note
        return disabled

    def _plan_triggers(
        self,
        config: HostConfig,
        connections: QueueConnections,
        invoker: Invoker,
        disabled: dict[str, str],
    ) -> tuple[list[QueuePoller], list[tuple[FunctionSpec, Schedule]]]:
        """A poller per queue function and a schedule per timer; failures go to disabled."""
        pollers: list[QueuePoller] = []
        timers: list[tuple[FunctionSpec, Schedule]] = []
        for spec in self.specs:
            if spec.name in disabled:
                continue
            try:
                if spec.trigger_type == QUEUE_TRIGGER:
                    pollers.append(QueuePoller(spec, config.queues, connections, invoker))
                elif spec.trigger_type == TIMER_TRIGGER:
                    timers.append((spec, parse_schedule(str(spec.trigger.schedule))))
            except (QueueConfigError, ScheduleError, LoadError) as exc:
                disabled[spec.name] = str(exc)
        return pollers, timers

    async def stop(self) -> bool:
        """Stop taking work, let running invocations finish (bounded), release resources."""
        if not self._started:
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
            return True
        self._started = False
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._grace
        if self._timers is not None:
            await self._timers.stop()
        await asyncio.gather(*(p.stop_receiving() for p in self._pollers))
        # The listener waits for its running requests (up to grace) while the pollers
        # finish and settle the messages they hold.
        results = await asyncio.gather(
            self._runner.cleanup() if self._runner else asyncio.sleep(0),
            *(p.wait_idle(self._grace) for p in self._pollers),
        )
        clean = all(r is not False for r in results[1:])
        if self._invoker is not None:
            remaining = max(0.1, deadline - loop.time())
            clean = await self._invoker.drain(remaining) and clean
        if self._connections is not None:
            await self._connections.close()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        log.info("devhost stopped")
        return clean

    def _emit(self, line: str) -> None:
        print(line, file=self._out, flush=True)

    def _print_banner(
        self,
        front: HttpFrontDoor,
        timers: list[tuple[FunctionSpec, Schedule]],
        disabled: dict[str, str],
        keys_text: list[str],
    ) -> None:
        schedules = {spec.name: schedule for spec, schedule in timers}
        pollers = {p.spec.name: p for p in self._pollers}
        lines = [f"devhost {__version__}: {self.app_dir} ({len(self.specs)} functions)"]
        for route in front.routes.routes:
            spec = route.payload
            methods = ",".join(sorted(route.methods)) if route.methods else "ALL"
            path = "/".join(p for p in (front.route_prefix, route.template) if p)
            auth = level_name(spec.trigger.auth_level)
            lines.append(f"  {spec.name}: [{methods}] {self.url}/{path} (auth: {auth})")
        for spec in self.specs:
            if spec.name in pollers:
                poller = pollers[spec.name]
                lines.append(
                    f"  {spec.name}: queueTrigger on {poller.queue_name} "
                    f"(connection {poller.connection})"
                )
            elif spec.name in schedules:
                startup = (
                    ", run on startup" if getattr(spec.trigger, "run_on_startup", False) else ""
                )
                lines.append(
                    f"  {spec.name}: timerTrigger {schedules[spec.name].text} (UTC){startup}"
                )
            elif spec.name in disabled:
                lines.append(f"  {spec.name}: {spec.trigger_type} DISABLED: {disabled[spec.name]}")
        lines += keys_text
        if self._emulate_auth:
            lines.append(f"  sign in (App Service auth emulation): {self.url}/.auth/login/dev")
        else:
            lines.append("  sign in: off (--no-auth); agent endpoints answer 401")
        for line in lines:
            self._emit(line)


def disabled_by_settings(specs: list[FunctionSpec]) -> dict[str, str]:
    """Functions switched off by the app setting `AzureWebJobs.<name>.Disabled`, as on Azure:
    their triggers do not start and their routes answer 404; the admin API (master key)
    still runs them."""
    disabled = {}
    for spec in specs:
        setting = f"AzureWebJobs.{spec.name}.Disabled"
        if os.environ.get(setting, "").strip().lower() in ("true", "1"):
            disabled[spec.name] = f"{setting} is set"
    return disabled
