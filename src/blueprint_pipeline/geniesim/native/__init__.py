"""Genie Sim's own asset and task files (`geniesim/native/`), and their check."""
