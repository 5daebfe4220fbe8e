"""`python -m bot.serve`: `rasa run` with the JWT secret read from RASA_JWT_SECRET, not the command line.

Passing `--jwt-secret` on the command line would show the secret to every local user in `ps`;
the arguments added here live only inside the process.
"""

from __future__ import annotations

import os
import sys

from bot.rest_channel import JWT_ALGORITHM, JWT_SECRET_ENV


def main() -> None:
    secret = os.environ.get(JWT_SECRET_ENV)
    if not secret:
        sys.exit(f"{JWT_SECRET_ENV} is not set: Rasa's HTTP API would be open to every local process")
    sys.argv = ["rasa", *sys.argv[1:], "--jwt-secret", secret, "--jwt-method", JWT_ALGORITHM]
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
