"""Hot-swaps the model on every Rasa process with `PUT /model`.

Rasa keeps answering with the old model until the new one is loaded (server.py swaps `app.ctx.agent`
only after loading), so messages sent during the swap are answered by one model or the other.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import httpx


class DeployError(RuntimeError):
    """A Rasa process refused or failed to load the model."""

    def __init__(self, url: str, detail: str) -> None:
        super().__init__(f"{url}: {detail}")
        self.url = url
        self.detail = detail


@dataclass(frozen=True)
class Swapped:
    url: str
    seconds: float


def _check(url: str, response: httpx.Response) -> None:
    if response.status_code not in (200, 204):
        raise DeployError(url, f"PUT /model answered {response.status_code}: {response.text[:300]}")


async def deploy_everywhere(
    http: httpx.AsyncClient, urls: Sequence[str], model_path: str, headers: dict[str, str], timeout: float
) -> list[Swapped]:
    """Loads `model_path` on each Rasa process in turn (one at a time, so the others keep serving)."""
    done: list[Swapped] = []
    for url in urls:
        started = time.monotonic()
        try:
            response = await http.put(f"{url}/model", json={"model_file": model_path}, headers=headers, timeout=timeout)
        except httpx.HTTPError as error:
            raise DeployError(url, f"not reachable ({error.__class__.__name__})") from error
        _check(url, response)
        done.append(Swapped(url, time.monotonic() - started))
    return done


def deploy_everywhere_sync(
    urls: Sequence[str], model_path: str, headers: dict[str, str], timeout: float
) -> list[Swapped]:
    """The same for scripts (bench): blocking."""
    done: list[Swapped] = []
    with httpx.Client(trust_env=False, timeout=timeout) as client:
        for url in urls:
            started = time.monotonic()
            try:
                response = client.put(f"{url}/model", json={"model_file": model_path}, headers=headers)
            except httpx.HTTPError as error:
                raise DeployError(url, f"not reachable ({error.__class__.__name__})") from error
            _check(url, response)
            done.append(Swapped(url, time.monotonic() - started))
    return done
