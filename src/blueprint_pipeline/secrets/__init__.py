"""Secret resolution (Secret Manager -> <NAME>_FILE -> env) and redaction of resolved values."""
