"""Engines shared by the GUI and the CLI. Nothing in this package imports Qt."""
