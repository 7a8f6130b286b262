"""The WhatsApp transport: frames over a websocket, wrapped in a Noise session."""
