"""The ticket kiosk: touch screen, service buttons, printed tickets (`python -m kiosk`)."""
