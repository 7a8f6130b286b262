"""WhatsApp protobuf schemas written for this project, and their generated modules."""
