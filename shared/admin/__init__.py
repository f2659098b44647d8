"""What admins manage beside the directory: agents at sign-in, API keys, poison queues,
and the rules' dry run."""
