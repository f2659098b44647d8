"""Developer tooling: local services (Azurite, MailDev), the `make run` orchestrator, sample data."""
