"""`blueprint validate`, `blueprint normalize`, `blueprint synth`: the scene contract commands."""

from __future__ import annotations
