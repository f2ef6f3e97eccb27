"""Session health from the event log: what the feed does to sessions, beyond clicks."""
