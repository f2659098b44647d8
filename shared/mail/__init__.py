"""Email itself: reading inbound messages (MIME, headers, text and HTML, quoted history,
machine mail), composing outbound ones, our Message-IDs, and sending (SMTP or Azure
Communication Services)."""
