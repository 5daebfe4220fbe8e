"""Use cases over the CRM: each takes a Session first, keyword arguments after, and returns DTOs.

Services flush but never commit: the caller's boundary (`with get_sessionmaker().begin() as session`) does.
"""
