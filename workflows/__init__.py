"""Orchestration only: the round and offer workflows. No I/O here; effects are activities."""
