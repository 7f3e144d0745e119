"""The Textual app. It drives the core (engines, store, export); the core never imports it."""
