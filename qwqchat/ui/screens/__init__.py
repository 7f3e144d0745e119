"""Modal screens: help, settings, confirmation, rename."""
