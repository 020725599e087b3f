"""Instruction phrasings an LLM writes besides the templates (setting BP_INSTRUCTION_PHRASINGS=gemini).

The templates of sim/language.py are the offline default and are always used. With the setting,
the episodes stage asks Gemini once per template family in the run (pick_place, place_in,
open_door, ...) for BP_INSTRUCTION_PHRASINGS_PER_FAMILY more templates, through the physics
estimator's client and call policy (`simready.gemini.GeminiClient`: rate limit -> circuit breaker
-> retry within a deadline; key GEMINI_API_KEY; URL BP_SIMREADY_GEMINI_BASE_URL; model
BP_INSTRUCTION_GEMINI_MODEL).

The LLM writes phrasings, not sentences: it uses the family's placeholders ({target}, {goal},
{carrier}, {direction}), and `language.instruction` fills them from the manifest as it fills the
templates (names, colour and material words, relative positions). So an LLM phrasing cannot name
an object the scene does not hold, and one answer serves every task of its family.

Each phrasing is checked (`check`) and dropped, with its reason counted, unless: it is a string;
lower-cased and without a trailing full stop it holds every placeholder all the family's
templates hold, no other, each once and without a format spec; the rest is letters, spaces,
apostrophes, hyphens and commas; 3-20 words; neither a template nor a repeat. A family whose call
fails (after the policy's retries, or with the breaker open) keeps its templates, with the reason
recorded, and is asked again by the next run. A missing key fails the stage before it writes
anything (`require_key`): the setting asked for the LLM.

`episodes/phrasings.json` records the model, each family's prompt digest, its phrasings and
rejections. A rerun reuses a family's phrasings while the model and the prompt are the same (an
LLM does not answer twice alike, and a rerun must not change the episodes' instructions);
`--force` asks again. Each episode item carries its family's phrasings (sim/stage.py), so an
episode recorded with other phrasings is simulated again, never reused.
"""

from __future__ import annotations

import hashlib
import logging
import re
import string
from collections import Counter
from collections.abc import Iterable
from typing import Any

from blueprint_pipeline import storage
from blueprint_pipeline.contract import EPISODES_PHRASINGS
from blueprint_pipeline.secrets.redact import redact
from blueprint_pipeline.sim.language import TEMPLATES

log = logging.getLogger(__name__)

SCHEMA = "blueprint.phrasings/1"
TEMPERATURE = 0.7  # varied phrasings; the file makes them reproducible
TIMEOUT_S = 30.0
MIN_WORDS, MAX_WORDS = 3, 20
_PLAIN = re.compile(r"[a-z' ,-]*")  # what a phrasing may hold besides its placeholders

MEANING = {  # what each template family asks, for the prompt
    "pick_place": "pick up an object ({target}) and put it on another piece of furniture ({goal})",
    "pick_place_off": "take an object ({target}) off the thing it stands on ({carrier}) and put it on a "
                      "piece of furniture ({goal})",
    "place_in": "put an object ({target}) into a container such as a bowl, basket, bin or drawer ({goal})",
    "pick_place_same": "pick up an object ({target}) and put it down elsewhere on the same surface ({goal}), "
                       "in a direction ({direction}, e.g. 'to the left')",
    "pick_place_shelf": "move an object ({target}) to another spot on its shelf of a shelving unit ({goal}), "
                        "in a direction ({direction}, e.g. 'to the right')",
    "stack": "put an object ({target}) on top of another object ({goal})",
    "push": "push an object ({target}) along a surface ({goal}) without lifting it, in a direction "
            "({direction}, e.g. 'further back')",
    "open_drawer": "open a drawer ({target}) by pulling its handle",
    "close_drawer": "close an open drawer ({target}) by pushing it in",
    "open_door": "open a hinged door ({target}) by its handle",
    "close_door": "close an open hinged door ({target})",
}


def fields(template: str) -> list[str]:
    """The placeholders of a template, in order; ValueError for unbalanced braces, a positional
    or attribute placeholder, a conversion or a format spec."""
    out = []
    for _, name, spec, conversion in string.Formatter().parse(template):
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            raise ValueError(f"placeholder {{{name}}} is not a plain name")
        out.append(name)
    return out


def rules(family: str) -> tuple[frozenset[str], frozenset[str]]:
    """(placeholders every template of the family holds, placeholders any of them holds)."""
    sets = [frozenset(fields(t)) for t in TEMPLATES[family]]
    return frozenset.intersection(*sets), frozenset.union(*sets)


def check(text: Any, family: str, taken: Iterable[str] = ()) -> tuple[str | None, str | None]:
    """(the phrasing as used, None) or (None, why it is dropped)."""
    if not isinstance(text, str):
        return None, "not a string"
    phrasing = " ".join(text.strip().lower().rstrip(".!").split())
    try:
        names = fields(phrasing)
    except ValueError as exc:
        return None, f"bad placeholder ({str(exc)[:60]})"
    required, allowed = rules(family)
    if set(names) - allowed:
        return None, "unknown placeholder"
    if required - set(names):
        return None, "missing placeholder"
    if len(names) != len(set(names)):
        return None, "repeated placeholder"
    plain = re.sub(r"\{[a-z_]+\}", "x", phrasing)
    if not _PLAIN.fullmatch(plain):
        return None, "characters other than letters"
    if not MIN_WORDS <= len(plain.split()) <= MAX_WORDS:
        return None, "length"
    if phrasing in TEMPLATES[family] or phrasing in set(taken):
        return None, "repeat"
    return phrasing, None


def prompt(family: str, count: int) -> str:
    required, allowed = rules(family)
    examples = "\n".join(f"- {t}" for t in TEMPLATES[family])
    return (
        "Write instructions a person would give a robot arm for one kind of task.\n"
        f"Task family: {family}\nThe task: {MEANING[family]}.\n"
        f"Examples:\n{examples}\n"
        f"Write {count} new ones, each different from the examples and from each other. Rules: keep the "
        f"placeholders in braces exactly as written; use each of {', '.join(f'{{{n}}}' for n in sorted(required))} "
        f"once; you may use {', '.join(f'{{{n}}}' for n in sorted(allowed - required)) or 'no other placeholder'}; "
        "no other braces; lower case; one imperative sentence of at most 16 words; no full stop; no digits.\n"
        'Answer with one JSON object only: {"phrasings": [string, ...]}'
    )


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def ask(client: Any, family: str, count: int) -> dict[str, Any]:
    """One family's entry of phrasings.json: asked of `client` (a GeminiClient), checked."""
    text = prompt(family, count)
    entry: dict[str, Any] = {"prompt_sha256": digest(text), "phrasings": [], "rejected": {}}
    try:
        answer = client.generate_json(text, temperature=TEMPERATURE)
    except Exception as exc:  # noqa: BLE001 - any failure: this family keeps its templates
        reason = redact(f"{type(exc).__name__}: {exc}")[:300]
        log.warning("instruction phrasings for %s failed (%s); templates only", family, reason)
        return entry | {"failed": reason}
    given = answer.get("phrasings")
    if not isinstance(given, list):
        return entry | {"failed": "answer has no list 'phrasings'"}
    rejected: Counter[str] = Counter()
    for item in given:
        phrasing, why = check(item, family, entry["phrasings"])
        if phrasing is None:
            rejected[why or "?"] += 1
        elif len(entry["phrasings"]) < count:
            entry["phrasings"].append(phrasing)
    entry["rejected"] = dict(sorted(rejected.items()))
    return entry


def require_key(settings: Any) -> None:
    """With the setting at `gemini`, resolve the key now (SecretNotFoundError, before the stage
    writes anything), also when every family's phrasings will be reused: the setting asked for
    the LLM."""
    if settings.instruction_phrasings != "templates":
        from blueprint_pipeline.secrets.resolver import get_secret
        from blueprint_pipeline.simready.gemini import SECRET_NAME

        get_secret(SECRET_NAME, settings=settings)


def for_run(out_url: str, families: Iterable[str], settings: Any, force: bool = False,
            client: Any = None) -> tuple[dict[str, tuple[str, ...]], dict[str, Any]]:
    """(template family -> its LLM phrasings, the summary's `instructions`). With the setting at
    `templates`: none, and no file. Otherwise each family is reused from phrasings.json or asked
    (see the module docstring) and the file is written."""
    url = EPISODES_PHRASINGS.url(out_url)
    if settings.instruction_phrasings == "templates":
        if storage.exists(url):  # an earlier run's, not this one's
            storage.remove(url)
        return {}, {"source": "templates"}
    count, model = settings.instruction_phrasings_per_family, settings.instruction_gemini_model
    old: dict[str, Any] = {}
    if not force and storage.exists(url):
        try:
            record = storage.read_json(url)
        except (ValueError, OSError):
            record = None
        if isinstance(record, dict) and record.get("schema") == SCHEMA and record.get("model") == model:
            old = record.get("families") or {}
    entries: dict[str, Any] = {}
    reused: set[str] = set()
    owned = None
    try:
        for family in sorted(set(families)):
            prev = old.get(family)
            if (isinstance(prev, dict) and "failed" not in prev
                    and prev.get("prompt_sha256") == digest(prompt(family, count))
                    and all(check(p, family)[0] == p for p in prev.get("phrasings", []))):
                entries[family] = prev
                reused.add(family)
                continue
            if client is None:
                from blueprint_pipeline.simready.gemini import GeminiClient

                client = owned = GeminiClient(settings.simready_gemini_base_url, model, TIMEOUT_S, settings=settings,
                                              policy_name="gemini-instructions")
            entries[family] = ask(client, family, count)
    finally:
        if owned is not None:
            owned.close()
    storage.atomic_write_json(url, {"schema": SCHEMA, "model": model, "families": {**old, **entries}})
    summary = {"source": "gemini", "model": model, "families": {
        f: {"templates": len(TEMPLATES[f]), "phrasings": len(e["phrasings"]), "rejected": sum(e["rejected"].values()),
            "reused": f in reused, **({"failed": e["failed"]} if "failed" in e else {})}
        for f, e in entries.items()}}
    return {f: tuple(e["phrasings"]) for f, e in entries.items() if e["phrasings"]}, summary
