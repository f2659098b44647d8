"""Tickets: intake, the agents' actions (workflow), views, agent queues, search, the
repair of half-done writes, and the auto-close job that acts through the workflow."""
