"""Secret resolution (Secret Manager -> <NAME>_FILE -> env) and redaction of resolved values."""

from blueprint_pipeline.secrets.redact import redact, register_secret
from blueprint_pipeline.secrets.resolver import SecretNotFoundError, clear_cache, get_secret

__all__ = ["SecretNotFoundError", "clear_cache", "get_secret", "redact", "register_secret"]
