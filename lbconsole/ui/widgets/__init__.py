"""Widgets for the console screens."""
