"""Optional estimator: ask Gemini for material, mass and friction; the table fills in the rest.

Plain httpx against the public REST shape (POST {base_url}/v1beta/models/{model}:generateContent,
key in the `x-goog-api-key` header, answer in candidates[0].content.parts[0].text), so the base
URL is configurable and tests run against a local server; every attempt goes through the
resilience `CallPolicy` (rate limit -> circuit breaker -> retry within a deadline). Answers are
validated with the table's bounds; an object whose call or answer fails falls back to the table,
with the reason in its notes. Manifest values still win over the LLM's.

Secrets: the API key (registered for redaction by the resolver that hands it out) and every other
registered secret are masked in each string of an answer
as soon as it is parsed, before any of it reaches a record, its notes, the journal or a log, so a
service that echoes the key back (in the material name, say, which an unknown material puts into
the notes) cannot get it stored.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

import httpx

from blueprint_pipeline.errors import BlueprintError
from blueprint_pipeline.scene.records import SceneObject
from blueprint_pipeline.secrets.redact import redact, redact_values
from blueprint_pipeline.simready.bounds import CheckedValues, check_values
from blueprint_pipeline.simready.categories import profile_for
from blueprint_pipeline.simready.config import SimreadyConfig
from blueprint_pipeline.simready.derive import derive_physics
from blueprint_pipeline.simready.materials import MATERIALS
from blueprint_pipeline.simready.meshes import MeshProps
from blueprint_pipeline.simready.records import ObjectPhysics
from blueprint_pipeline.simready.table import TableEstimator, choose

log = logging.getLogger(__name__)
SECRET_NAME = "GEMINI_API_KEY"
LLM_FIELDS = ("mass_kg", "static_friction", "dynamic_friction", "restitution")
# We pace requests 5 % below the configured limit: our limiter spaces permits exactly 1/rate
# apart, and thread scheduling and the network can bunch them up on the way, so without a margin
# the service would see 11 requests inside some 1 s window at a limit of 10/s.
RATE_MARGIN = 0.95


def gemini_policy(rate_per_s: float, settings: Any = None, name: str = "gemini", **overrides: Any) -> Any:
    """The call policy for Gemini: the settings' retry/breaker values, paced below `rate_per_s`."""
    from blueprint_pipeline.resilience.policy import CallPolicy

    if settings is None:
        return CallPolicy(name, rate_per_s=rate_per_s * RATE_MARGIN, **overrides)
    return CallPolicy.from_settings(name, settings, rate_per_s=rate_per_s * RATE_MARGIN, **overrides)


class EstimateRejected(BlueprintError):
    """The service answered, but not with usable physics."""


def build_prompt(obj: SceneObject) -> str:
    x, y, z = obj.extents_m
    return (
        "Estimate physical properties of one real-world object for a robot simulator.\n"
        f"Category: {obj.category}\nName: {obj.name}\nDescription: {obj.description[:300]}\n"
        f"Bounding box (m): {x:.3f} x {y:.3f} x {z:.3f}\n"
        f"Answer with one JSON object only: {{\"material\": one of {sorted(MATERIALS)}, "
        "\"mass_kg\": number, \"static_friction\": number, \"dynamic_friction\": number, "
        "\"restitution\": number}. Mass of the real object as usually found (hollow things are "
        "hollow); friction against a dry wooden table."
    )


def parse_answer(body: Any) -> dict[str, Any]:
    """The JSON object inside a generateContent response, or EstimateRejected."""
    try:
        text = body["candidates"][0]["content"]["parts"][0]["text"]
    except (KeyError, IndexError, TypeError):
        raise EstimateRejected("response has no candidates[0].content.parts[0].text") from None
    text = text.strip()
    if text.startswith("```"):  # models sometimes fence JSON despite the MIME type
        text = text.strip("`").removeprefix("json").strip()
    try:
        answer = json.loads(text)
    except json.JSONDecodeError as exc:
        raise EstimateRejected(f"answer is not JSON ({exc.msg})") from None
    if not isinstance(answer, dict):
        raise EstimateRejected("answer is not a JSON object")
    return answer


class GeminiClient:
    """One Gemini model over REST: `generate_json(prompt)` is one logical call through the call
    policy (rate limit -> breaker -> retry within a deadline) and returns the answer's JSON object,
    every registered secret masked in its strings. Shared by the physics estimator and the
    episodes stage's instruction phrasings (sim/phrasings.py)."""

    def __init__(self, base_url: str, model: str, timeout_s: float, *, workers: int = 1, policy: Any = None,
                 client: httpx.Client | None = None, api_key: str | None = None, settings: Any = None,
                 rate_per_s: float | None = None, policy_name: str = "gemini"):
        if policy is None:
            from blueprint_pipeline.config import get_settings

            settings = settings or get_settings()
            policy = gemini_policy(rate_per_s or settings.rate_limit_per_s, settings, name=policy_name)
        self.policy = policy
        if api_key is None:
            from blueprint_pipeline.secrets.resolver import get_secret

            api_key = get_secret(SECRET_NAME, settings=settings)
        self._api_key = api_key
        self.timeout_s = timeout_s
        self._owns_client = client is None
        self.client = client or httpx.Client(
            timeout=timeout_s,
            limits=httpx.Limits(max_connections=max(workers, 1), max_keepalive_connections=max(workers, 1)))
        self.url = f"{base_url.rstrip('/')}/v1beta/models/{model}:generateContent"

    def close(self) -> None:
        if self._owns_client:
            self.client.close()

    def generate_json(self, prompt: str, temperature: float = 0.0) -> dict[str, Any]:
        body = {
            "contents": [{"role": "user", "parts": [{"text": prompt}]}],
            "generationConfig": {"responseMimeType": "application/json", "temperature": temperature},
        }
        response = self.policy.request(self.client, "POST", self.url, json=body,
                                       headers={"x-goog-api-key": self._api_key}, timeout=self.timeout_s)
        try:
            payload = response.json()
        except ValueError:
            raise EstimateRejected("response body is not JSON") from None
        return redact_values(parse_answer(payload))


class GeminiEstimator:
    name = "gemini"

    def __init__(self, config: SimreadyConfig, *, policy: Any = None, client: httpx.Client | None = None,
                 api_key: str | None = None, settings: Any = None):
        self.config = config
        self.table = TableEstimator(config)
        self.gemini = GeminiClient(config.gemini_base_url, config.gemini_model, config.gemini_timeout_s,
                                   workers=config.workers, policy=policy, client=client, api_key=api_key,
                                   settings=settings, rate_per_s=config.rate_per_s)
        self.policy = self.gemini.policy

    def close(self) -> None:
        self.gemini.close()

    def ask(self, obj: SceneObject) -> dict[str, Any]:
        """The service's answer for `obj`, every registered secret masked in its strings."""
        return self.gemini.generate_json(build_prompt(obj))

    def estimate_llm(self, obj: SceneObject, manifest: CheckedValues | None = None,
                     mesh: MeshProps | None = None) -> ObjectPhysics:
        """One object from the LLM's answer (manifest values still win); raises if the call or
        the answer fails."""
        manifest = manifest or CheckedValues()
        profile, _ = profile_for(obj.category, obj.name, obj.extents_m)
        answer = self.ask(obj)
        checked = check_values({k: answer.get(k) for k in LLM_FIELDS}, f"llm[{obj.id}]", strict=False)
        if checked.problems:
            raise EstimateRejected("; ".join(str(p) for p in checked.problems[:3]))
        material = answer.get("material")
        chosen = choose(obj, manifest, checked.values, material if isinstance(material, str) else None)
        chosen.notes.extend(checked.notes)
        return derive_physics(obj, profile, chosen, self.config, mesh)

    def fallback(self, obj: SceneObject, manifest: CheckedValues | None, mesh: MeshProps | None, reason: str) -> ObjectPhysics:
        """The table's estimate, with why the LLM's was not used."""
        log.warning("gemini estimate for %s failed (%s); using the table", obj.id, reason)
        p = self.table.estimate(obj, manifest, mesh)
        return p.model_copy(update={"notes": p.notes + (f"gemini estimate failed ({reason}); table values used",)})

    def estimate(self, obj: SceneObject, manifest: CheckedValues | None = None, mesh: MeshProps | None = None) -> ObjectPhysics:
        """One object: the LLM's values where valid, else the table's with the reason noted."""
        try:
            return self.estimate_llm(obj, manifest, mesh)
        except Exception as exc:  # noqa: BLE001 - any failure of this object -> table, reason recorded
            return self.fallback(obj, manifest, mesh, redact(f"{type(exc).__name__}: {exc}")[:300])

    def estimate_all(self, objects: Sequence[SceneObject], manifest: Sequence[CheckedValues],
                     meshes: Sequence[MeshProps | None], progress: Any = None,
                     journal_url: str | None = None) -> tuple[list[ObjectPhysics], dict[str, Any]]:
        """All objects on `config.workers` threads through `resilience.partial.run_items`, results
        in input order. An object whose call fails gets the table's values (one failure never
        stops the others). With `journal_url`, answered objects are journaled, so a rerun after a
        crash asks only for the rest; failed ones are asked again."""
        from blueprint_pipeline.resilience.partial import run_items

        def one(i: int) -> dict[str, Any]:
            return self.estimate_llm(objects[i], manifest[i], meshes[i]).model_dump(mode="json")

        report = run_items(list(range(len(objects))), one, workers=self.config.workers, executor="thread",
                           min_success_rate=0.0, journal_url=journal_url, key=lambda i: objects[i].id,
                           progress=progress, stage="simready")
        out: list[ObjectPhysics] = []
        for i, r in enumerate(report.results):
            if r.ok:
                out.append(ObjectPhysics.model_validate(r.value))
            else:
                out.append(self.fallback(objects[i], manifest[i], meshes[i], f"{r.error_type}: {r.message}"[:300]))
        fallbacks = report.failed_count
        return out, {"llm_objects": len(out) - fallbacks, "table_fallbacks": fallbacks,
                     "resumed_from_journal": report.resumed_count, "workers": self.config.workers}
