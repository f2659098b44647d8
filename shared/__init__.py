"""The help desk itself: domain, services and storage. Importable without azure.functions."""
