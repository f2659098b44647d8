"""The kernel: errors, models, the lifecycle (statuses, actions, transitions), numbering,
file names, sign-in principals, settings, telemetry, the directory's models and the
portal's signed links. Pure: it imports nothing else of the help desk and does no I/O."""
