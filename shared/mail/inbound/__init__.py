"""Reading inbound email. `message.parse_email` is the entry; the other modules are its
pieces (MIME walk, headers and charsets, bodies as text, quoted history, machine mail)."""
