"""Placeholder: filled by the round_report work of issue 13."""

from __future__ import annotations
