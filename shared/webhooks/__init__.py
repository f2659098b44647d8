"""Outbound webhooks: endpoints admins register, the fan-out of ticket events to them,
signed deliveries with retries, and the Microsoft Teams formatter (docs/webhooks.md)."""
