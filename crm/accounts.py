"""Console logins: `python -m crm.accounts list` or `python -m crm.accounts create USERNAME --role ROLE
[--agent AGENT_USERNAME] [--name NAME]` (the password is asked for, never passed on the command line)."""

from __future__ import annotations

import argparse
import getpass
import logging
import sys

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from core.settings import get_settings
from crm.db import make_engine
from crm.enums import STAFF_ROLES
from crm.models import Agent
from crm.services.accounts import AccountError, create_account, list_accounts

logger = logging.getLogger("crm.accounts")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", help="database URL (default: DATABASE_URL from settings)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="every login and its role")
    create = commands.add_parser("create", help="a new login; the password is read from the terminal")
    create.add_argument("username")
    create.add_argument("--role", choices=STAFF_ROLES, required=True)
    create.add_argument("--agent", help="for --role agent: the agent's username in the agent table")
    create.add_argument("--name", help="display name (default: the agent's name, else the username)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    engine = make_engine(args.url or get_settings().database_url)
    try:
        with sessionmaker(engine, expire_on_commit=False).begin() as session:
            if args.command == "list":
                for account in list_accounts(session):
                    state = "" if account.active else "  (disabled)"
                    logger.info("%s\t%s\t%s%s", account.username, account.role, account.display_name, state)
                return 0
            agent = session.scalar(select(Agent).where(Agent.username == args.agent)) if args.agent else None
            if args.agent and agent is None:
                logger.error("no agent with username %r", args.agent)
                return 2
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Repeat: "):
                logger.error("the passwords differ")
                return 2
            try:
                account = create_account(
                    session,
                    username=args.username,
                    password=password,
                    role=args.role,
                    display_name=args.name or (agent.name if agent else args.username),
                    agent_id=agent.id if agent else None,
                )
            except AccountError as error:
                logger.error("%s", error)
                return 2
            logger.info("created %s (%s)", account.username, account.role)
            return 0
    finally:
        engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
