"""The storage layer over Azure Table, Blob and Queue Storage (Azurite locally).

Layout (see DESIGN.md):
- table `tickets`: one partition per ticket number. RowKey `ticket` is the head,
  `evt-NNNNNN` the thread entries in order, `att-ID` attachment metadata, `mail-…`
  a record of each email sent (also the guard that makes notifications idempotent).
- table `ticketindex`: partition `idx`, one row per (queue, ticket); see `shared/indexing.py`.
- table `idempotency`: one row per Idempotency-Key, pointing at the ticket it created.
- blob container `attachments`: one blob per file under a generated name.
- queue `ticket-events`: one message per event that needs a side effect (email, ...).
"""
