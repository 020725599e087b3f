"""A `ServiceClient` configured from `BP_*` settings and the secrets resolver (CLI use)."""

from __future__ import annotations

import httpx

from blueprint_pipeline.client.api import ServiceClient, paced_rate
from blueprint_pipeline.errors import InvalidInputError

API_KEY_SECRET = "BP_API_KEY"


def client_from_settings(server: str | None = None) -> ServiceClient:
    from blueprint_pipeline.config import get_settings
    from blueprint_pipeline.resilience.policy import CallPolicy

    settings = get_settings()
    url = server or settings.service_url
    if not url:
        raise InvalidInputError("no service URL: pass --server URL or set BP_SERVICE_URL")
    from blueprint_pipeline.secrets.resolver import get_secret

    api_key = get_secret(API_KEY_SECRET)
    # One limiter and breaker per service address; a call whose deadline allows it waits for an
    # open breaker's probe instead of failing (a submit has no fallback to fail over to).
    address = httpx.URL(url)
    policy = CallPolicy.from_settings(f"generation-service:{address.host}:{address.port or ''}", settings,
                                      rate_per_s=paced_rate(settings.rate_limit_per_s),
                                      wait_for_breaker=True)
    return ServiceClient(url, api_key, policy=policy)
