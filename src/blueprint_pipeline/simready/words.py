"""Whole-word matching of free-text labels (categories, names, material words) to table entries.

Every place that maps a label such as "Barcode Scanner", "coffee_mugs" or "granite countertop"
to a table entry (category profiles, materials, GenieSim mesh shapes, the floor) uses this one
matcher, so a word is never found inside another word: "barcode scanner" is not a can, "cutting
board" not a tin, "template" not a plate, "potato" not a pot.

Words. camelCase boundaries are split ("CoffeeMug" -> "coffee mug", "TVStand" -> "tv stand"),
then every run of non-letters (spaces, "_", "-", digits, punctuation) separates words, and words
are lowercased: "tool_box-2" -> ("tool", "box").

Plurals. Only this explicit rule set, and only when the result is a word the matcher knows (so
"canes" never becomes "can", "tines" never "tin", "mates" never "mat"):
  1. irregular plurals listed in `IRREGULAR_PLURALS` ("knives" -> "knife", "shelves" -> "shelf");
  2. "-ies" -> "-y" ("berries" -> "berry");
  3. "-es" dropped after s, x, z, ch, sh or o ("glasses", "boxes", "dishes", "potatoes");
  4. "-s" dropped, not after another s ("mugs", "plates", "vases").
Anything else stays as written.

Head noun (`Matcher.head`). Phrases are word sequences. English compounds end in their head noun,
so the phrase ending nearest the end of the text wins, and of the phrases ending at the same
word the longest ("trash can" over "can"): "coffee table" is a table, "coffee mug" a mug, "glass
bottle" a bottle. Words written apart that together are a one-word phrase count as that phrase,
spanning all of them ("tool box" is "toolbox", "red tea pot" a teapot, "cup board" a cupboard, not
a board). And:
  - "X of Y", "X with(out) Y" and "X for Y" have the head X ("bowl of fruit" is a bowl, "cabinet
    with glass doors" a cabinet), except inside a phrase that spans the word ("chest of drawers").
Looking backwards, words that match nothing are passed over ("kitchen cabinet door" is a
cabinet), but a `stop` word ends the search with no match: a head noun that names a different
thing from the noun before it ("bottle opener", "cup holder", "table lamp").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Generic, TypeVar

T = TypeVar("T")

IRREGULAR_PLURALS: dict[str, str] = {
    "knives": "knife", "shelves": "shelf", "leaves": "leaf", "loaves": "loaf", "halves": "half",
    "mice": "mouse", "feet": "foot", "teeth": "tooth", "people": "person", "children": "child",
}
# "X of Y" has the head X. Not "in" or "on": they also form compounds ("built-in oven", "walk-in closet").
PREPOSITIONS = frozenset({"of", "with", "without", "for"})

_CAMEL_LOWER_UPPER = re.compile(r"(?<=[a-z])(?=[A-Z])")
_CAMEL_ACRONYM = re.compile(r"(?<=[A-Z])(?=[A-Z][a-z])")
_WORD = re.compile(r"[^\W\d_]+")
_NOT_A_NAME = re.compile(r"[^\w\s-]|\d")


def raw_words(text: str) -> tuple[str, ...]:
    """Lowercase words of `text`, split at camelCase boundaries and at every non-letter."""
    text = _CAMEL_ACRONYM.sub(" ", _CAMEL_LOWER_UPPER.sub(" ", text))
    return tuple(_WORD.findall(text.lower()))


def singular(word: str, known: frozenset[str] | set[str]) -> str:
    """`word` in the singular by the rules in the module docstring, if that is a `known` word."""
    if word in known:
        return word
    candidates: list[str] = []
    if word in IRREGULAR_PLURALS:
        candidates.append(IRREGULAR_PLURALS[word])
    if word.endswith("ies") and len(word) > 4:
        candidates.append(word[:-3] + "y")
    if word.endswith("es") and word[:-2].endswith(("s", "x", "z", "ch", "sh", "o")):
        candidates.append(word[:-2])
    if word.endswith("s") and not word.endswith("ss"):
        candidates.append(word[:-1])
    return next((c for c in candidates if c in known), word)


class Matcher(Generic[T]):
    """Whole-word phrases -> values. Each phrase maps to one value (a duplicate is an error)."""

    def __init__(self, entries: Iterable[tuple[str, T]], stop: Iterable[str] = ()):
        pairs = [(raw_words(p), v) for p, v in entries]
        self.stop = frozenset(w for s in stop for w in raw_words(s))
        self.vocabulary: frozenset[str] = frozenset(w for words, _ in pairs for w in words) | self.stop
        self.phrases: dict[tuple[str, ...], T] = {}
        for words, value in pairs:
            key = tuple(singular(w, self.vocabulary) for w in words)
            if not key:
                raise ValueError("empty phrase")
            if key in self.phrases and self.phrases[key] != value:
                raise ValueError(f"phrase {' '.join(key)!r} maps to two values")
            self.phrases[key] = value
        # Phrases by their last word, longest first.
        self._by_last: dict[str, list[tuple[tuple[str, ...], T]]] = {}
        for key, value in sorted(self.phrases.items(), key=lambda kv: -len(kv[0])):
            self._by_last.setdefault(key[-1], []).append((key, value))
        self._spanning = [k for k in self.phrases if len(k) > 2 and PREPOSITIONS.intersection(k[1:-1])]
        # the answers per text, remembered (the matchers are module constants and their answers
        # depend on the text only): the episodes stage asks the same names and categories again
        # for every scene it compiles
        self.head = lru_cache(maxsize=4096)(self.head)  # type: ignore[method-assign]
        self.exact = lru_cache(maxsize=4096)(self.exact)  # type: ignore[method-assign]
        self.mentions = lru_cache(maxsize=4096)(self.mentions)  # type: ignore[method-assign]

    def words(self, text: str) -> tuple[str, ...]:
        """The words of `text`, plurals of known words made singular."""
        return tuple(singular(w, self.vocabulary) for w in raw_words(text))

    def _ending_at(self, words: tuple[str, ...], end: int) -> T | None:
        """The value of the longest match ending at words[end - 1]: a phrase, or two or more words
        that written together are a one-word phrase ("tea pot" -> "teapot")."""
        span, best = 0, None
        for key, value in self._by_last.get(words[end - 1], ()):  # longest first
            n = len(key)
            if n <= end and words[end - n:end] == key:
                span, best = n, value
                break
        for start in range(0, end - 1):
            if end - start <= span:
                break
            joined = (singular("".join(words[start:end]), self.vocabulary),)
            if joined in self.phrases:
                return self.phrases[joined]
        return best

    def _head_limit(self, words: tuple[str, ...]) -> int:
        """Index of the first preposition that is not inside a matching phrase, else len(words)."""
        for i, w in enumerate(words):
            if w not in PREPOSITIONS or i == 0:
                continue
            inside = any(
                words[s:s + len(k)] == k
                for k in self._spanning
                for s in range(max(0, i - len(k) + 1), i)
            )
            if not inside:
                return i
        return len(words)

    def head(self, text: str) -> T | None:
        """The value of the text's head noun phrase (rules in the module docstring), or None."""
        words = self.words(text)
        for end in range(self._head_limit(words), 0, -1):
            value = self._ending_at(words, end)
            if value is not None:
                return value
            if words[end - 1] in self.stop:
                return None
        return None

    def exact(self, text: str) -> T | None:
        """The value of the phrase that is the whole text: letters, with spaces, "_" or "-" between
        words (case and plurals aside); any other character or a digit means no match."""
        if _NOT_A_NAME.search(text):
            return None
        raw = raw_words(text)
        if len(raw) > 1:
            joined = singular("".join(raw), self.vocabulary)
            if (joined,) in self.phrases:
                return self.phrases[(joined,)]
        return self.phrases.get(tuple(singular(w, self.vocabulary) for w in raw))

    def mentions(self, text: str) -> T | None:
        """The value of a phrase found anywhere in the text as whole words (the one ending last)."""
        words = self.words(text)
        for end in range(len(words), 0, -1):
            value = self._ending_at(words, end)
            if value is not None:
                return value
        return None
