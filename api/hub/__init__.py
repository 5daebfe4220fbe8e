"""The conversation hub: every channel hands customer messages here."""
