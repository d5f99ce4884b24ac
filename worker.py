"""The worker entry point: `python worker.py` is `offerdesk worker`."""

from offerdesk.cli import app

if __name__ == "__main__":
    app(["worker"])
