"""Is a dependency answering? Used by /health and by the hub to tell a real answer from a degraded one."""

from __future__ import annotations

import httpx


async def is_reachable(http: httpx.AsyncClient, url: str, timeout_seconds: float = 2.0) -> bool:
    try:
        response = await http.get(url, timeout=timeout_seconds)
        return response.status_code == 200
    except httpx.HTTPError:
        return False
