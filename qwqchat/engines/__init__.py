"""Engines turn a conversation into a stream of events; they know nothing of the UI."""
