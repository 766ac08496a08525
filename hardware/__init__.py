"""Thin adapters over real devices (printer, buttons and LEDs, sound), each with a test double."""
