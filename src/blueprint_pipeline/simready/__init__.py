"""simready package."""
