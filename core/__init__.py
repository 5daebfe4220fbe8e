"""Shared configuration and logging for the app env (api/, actions/, crm/ scripts)."""
