"""A WhatsApp multi-device client library.

This package speaks WhatsApp's protocol and knows nothing about Matrix: it must never import
``mautrix`` or any other part of ``mautrix_whatsapp``.
"""
