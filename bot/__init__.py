"""Code that runs inside the Rasa server (rasa env): custom stores, channels and components.

Rasa imports this package when it builds the lock store named in endpoints.yml, so every Rasa server
of the project also gets the fixes installed here (each one explains itself in its module).
"""

from bot import action_timeout, action_validation

action_validation.install()
action_timeout.install()
