"""mautrix-whatsapp: a Matrix-WhatsApp puppeting bridge (``whatsapp/`` is its protocol library)."""
