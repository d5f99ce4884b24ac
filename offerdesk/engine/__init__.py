"""The engine as callers see it: typed calls in, typed answers or a Refused with a sentence out.

`client` holds the Engine (changes and reads), `errors` how it refuses and when it cannot, `connection` the one
Temporal client per process, `visibility` what Temporal's own records say, `workers` whether a worker polls.
"""

from offerdesk.engine.client import Engine
from offerdesk.engine.connection import connect
from offerdesk.engine.errors import EngineUnavailable, Refused

__all__ = ["Engine", "EngineUnavailable", "Refused", "connect"]
