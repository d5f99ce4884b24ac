"""The trade-offer domain: reading offer files and spreadsheets, the validation rules, HS codes, the
landing-zone policy, the reference tables, an offer's lines and diffs, and the round report.

Pure functions over `schemas`: no Temporal, no store, no clock unless one is given. Activities, the portal
and the CLI all use them; they know nothing of those.
"""
