"""What the desk emails, to whom and when: one handler per ticket event, each email sent once."""
