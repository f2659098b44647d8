"""The help desk's Azure Functions app: it registers the blueprints and nothing else."""

import azure.functions as func

from functions import health, intake, notifications, tickets, web

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

for blueprint in (intake.bp, tickets.bp, notifications.bp, web.bp, health.bp):
    app.register_functions(blueprint)
