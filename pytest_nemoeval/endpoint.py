"""The model endpoint: connect to a served one (--endpoint, or the server the plugin started: servers/)."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass, field

import pytest


@dataclass
class Endpoint:
    base_url: str
    model: str
    api_key: str | None = field(default=None, repr=False)

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}


def normalize_url(url: str) -> str:
    url = url.strip().rstrip("/")
    if "://" not in url:
        url = f"http://{url}"
    return url if url.endswith("/v1") else f"{url}/v1"


def connect(url: str, model: str | None, api_key_env: str, key_env_explicit: bool,
            option: str = "--endpoint") -> Endpoint:
    """Check the endpoint answers /v1/models and serves the model; one clear line otherwise.

    `option` names the flag in the messages (--endpoint, or --judge-endpoint for the judge)."""
    model_option = option.replace("endpoint", "model")
    base = normalize_url(url)
    api_key = os.environ.get(api_key_env) or None
    if key_env_explicit and api_key is None:
        raise pytest.UsageError(
            f"{option.replace('endpoint', 'api-key-env')} {api_key_env}: the environment variable {api_key_env} is not set; export it first")
    request = urllib.request.Request(f"{base}/models", headers=Endpoint(base, "", api_key).headers())
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            listing = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            hint = (f"set the environment variable {api_key_env}" if api_key is None
                    else f"check the key in {api_key_env}")
            raise pytest.UsageError(f"{option} {url} refused access (HTTP {exc.code}): {hint}") from None
        raise pytest.UsageError(f"{option} {url}: GET {base}/models answered HTTP {exc.code}; "
                                "is this an OpenAI-compatible server?") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        reason = getattr(reason, "strerror", None) or str(reason)
        raise pytest.UsageError(f"{option} {url} is not reachable: {reason}; is the server up?") from None
    except ValueError:
        raise pytest.UsageError(f"{option} {url}: {base}/models did not return JSON; "
                                "is this an OpenAI-compatible server?") from None
    served = [entry.get("id") for entry in listing.get("data") or [] if isinstance(entry, dict)]
    if model is None:
        if not served:
            raise pytest.UsageError(f"{option} {url} serves no model; pass {model_option} NAME")
        model = served[0]
    elif served and model not in served:
        raise pytest.UsageError(f"{model_option} {model} is not served by {url} (served: {', '.join(served)})")
    return Endpoint(base, model, api_key)
