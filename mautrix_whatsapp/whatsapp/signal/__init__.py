"""The Signal protocol as WhatsApp uses it, wire-compatible with libsignal (message version 3).

Modules: ``address`` (device addresses), ``keys`` (pre-key records and bundles), ``errors``,
``session`` (session records and states), ``builder`` (X3DH), ``cipher`` (the double ratchet),
``group*``/``sender_key*`` (sender keys) and ``padding`` (WhatsApp's plaintext padding).
"""
