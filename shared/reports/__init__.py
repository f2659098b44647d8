"""Reports from the ticket history: each ticket's contribution (metrics) and the daily summaries."""
