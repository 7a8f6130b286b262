"""Protobuf formats of the Signal protocol: wire messages (whisper) and local storage records."""
