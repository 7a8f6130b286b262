"""A WhatsApp server that speaks the real wire protocol, for tests. See README.md."""
