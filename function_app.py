"""The help desk's Azure Functions app: it registers the blueprints and nothing else."""

import azure.functions as func

from functions import directory, health, intake, notifications, openapi, tickets, web

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

for blueprint in (intake.bp, tickets.bp, directory.bp, notifications.bp, web.bp, health.bp,
                  openapi.bp):
    app.register_functions(blueprint)
