"""The help desk's Azure Functions app: it registers the blueprints and nothing else."""

import os

import azure.functions as func

from functions import (
    admin,
    agentui,
    apikeys,
    audit,
    automation,
    directory,
    health,
    intake,
    integrations,
    kb,
    mailboxes,
    notifications,
    openapi,
    portal,
    reports,
    requesters,
    static,
    tickets,
    web,
    webhooks,
)
from shared.core import telemetry

telemetry.configure(os.environ)  # Application Insights, only where it is configured

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

for blueprint in (intake.bp, integrations.bp, tickets.bp, directory.bp, apikeys.bp,
                  admin.bp, automation.bp, notifications.bp, web.bp, static.bp, reports.bp,
                  kb.bp, health.bp, openapi.bp, agentui.bp, portal.bp, mailboxes.bp, audit.bp,
                  requesters.bp, webhooks.bp):
    app.register_functions(blueprint)
