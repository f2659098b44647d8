"""The help desk's Azure Functions app: it registers the blueprints and nothing else."""

import azure.functions as func

from functions import (
    admin,
    apikeys,
    automation,
    directory,
    health,
    intake,
    integrations,
    notifications,
    openapi,
    portal,
    static,
    tickets,
    web,
)

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

for blueprint in (intake.bp, integrations.bp, tickets.bp, directory.bp, apikeys.bp,
                  admin.bp, automation.bp, notifications.bp, web.bp, static.bp, health.bp,
                  openapi.bp, portal.bp):
    app.register_functions(blueprint)
