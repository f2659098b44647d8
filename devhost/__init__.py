"""devhost: a small local stand-in for the Azure Functions host.

Azure Functions Core Tools cannot be installed on the project's machines, so this
package runs the same `function_app.py` locally: it reads the functions registered on
the app's `azure.functions.FunctionApp`, serves the HTTP triggers with aiohttp, polls
Azurite queues for queue triggers, fires timer triggers and emulates App Service
Authentication for the agent UI.

Run it with `python -m devhost --app-dir DIR`; tests can also drive
`devhost.host.Host` in-process.

Not emulated (it is a development host, not the Functions runtime):

- trigger types other than HTTP, queue and timer (blob, Service Bus, Event Grid, ...),
  and input bindings; output bindings other than `queue` and `http` are accepted but
  their values are dropped (each is reported at startup);
- identity-based connections (`<name>__queueServiceUri`): connection strings only;
- `functionTimeout`, `maxConcurrentRequests` and other host.json limits besides the
  route prefix and the queue options; retry policies; the timer schedule monitor
  (missed runs while the host was down are not caught up) and time zones (UTC only);
- queue lease renewal (a message is leased for 5 minutes while its function runs) and
  the distributed singleton lock (one devhost per app is assumed);
- CORS, HTTPS, Easy Auth providers other than the dev form, token stores and the
  "require authentication" redirect; per-function keys and the key management API
  (only `/admin/host/status` and `/admin/functions/{name}` exist); Application
  Insights, Durable Functions and Dapr.

Modules, one capability each:

- `__main__`: the command line, signal handling and exit code.
- `admin`: the master-key admin endpoints (host status, run a non-HTTP function now).
- `host`: `Host`, which wires the parts together and owns start and stop.
- `loader`: local.settings.json, host.json and importing the app's registry.
- `functions`: what the host needs to know about one registered function.
- `invoker`: calling a user function (thread pool or event loop), context, `Out`.
- `context`: the `azure.functions.Context` and `Out` implementations.
- `routing`: ASP.NET-style route templates and their precedence.
- `http_server`: the aiohttp front door for HTTP triggers and `/.auth/*`.
- `keys`: function and master keys, and the auth-level check.
- `easyauth`: App Service Authentication emulation (dev sign-in, principal header).
- `queues`: queue trigger pollers and queue output bindings over Azurite.
- `timers`: NCRONTAB schedules and the timer trigger scheduler.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
