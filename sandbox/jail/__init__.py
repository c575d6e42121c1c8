"""Confining and driving runtime processes: the trusted side of the runtime protocol."""
