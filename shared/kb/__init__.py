"""The knowledge base: articles from resolved tickets and the in-memory search over them."""
