"""geniesim package."""
