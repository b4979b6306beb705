"""Helpers shared by the test packages (browsers, logged-in sessions, factory fixtures)."""
