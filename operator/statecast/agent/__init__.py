"""The node agent: HTTP server, store and persistence, peer sync."""
