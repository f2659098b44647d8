"""Operators' commands (`python -m tools.<name>`); `mailpipe.py` also runs alone on a mail server."""
