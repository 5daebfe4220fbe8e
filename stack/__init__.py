"""Starts the whole system: CRM database, Rasa model, action server, Rasa server, API hub."""
