"""Placeholder: filled by the offer_files work of issue 13."""

from __future__ import annotations
