"""SLA plans: business calendars and clocks (pure), and the flow that starts, pauses,
warns and breaches them on tickets."""
