"""usd package."""
