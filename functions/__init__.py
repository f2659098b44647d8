"""HTTP, queue and timer adapters: one blueprint per area. No business rules here."""
