"""The ways tickets come in besides the web form: email, chat transcripts, osTicket's API."""
