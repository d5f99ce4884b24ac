"""The worker entry point: `python worker.py` is `offerdesk worker`."""

import sys

from offerdesk.cli import main

if __name__ == "__main__":
    sys.argv = [sys.argv[0], "worker"]
    main()
