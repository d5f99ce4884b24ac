"""Placeholder: filled by the offer_diff work of issue 13."""

from __future__ import annotations
