"""The storage layer over Azure Table, Blob and Queue Storage (Azurite locally).

The names of the tables, containers and queues are the constants in `clients.py`; what
each holds, with its partition and row keys, is the storage table of
docs/architecture.md, which tests/docs/test_docs_match_code.py checks against the code.
"""
