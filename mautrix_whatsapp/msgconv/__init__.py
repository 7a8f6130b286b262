"""Message conversion between Matrix events and WhatsApp messages (both directions)."""
