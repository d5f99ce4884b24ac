"""The floor under an update: a trivial workflow with one trivial update, served by a small worker of its own.

Run as `python -m benchmarks.floor --address 127.0.0.1:7633 --task-queue bench-floor`, with the same
OFFERDESK_HOME / OFFERDESK_KEYS_FILE as the benchmark: it connects through offerdesk.engine.connect, so its
payloads go through Settings.converter() (pydantic, encrypted with the keyring) like every other client's. The
benchmark sends one `touch` beside each approval; the ratio of the two latencies shows what Offerdesk's own code
adds to what Temporal, the converter and this machine cost anyway.

This module is imported again inside the workflow sandbox: keep its top level to temporalio alone.
"""

from __future__ import annotations

from temporalio import workflow

FLOOR_QUEUE = "bench-floor"


@workflow.defn
class FloorWorkflow:
    """Waits until told to finish; each `touch` counts and answers with what it was sent."""

    def __init__(self) -> None:
        self._touched = 0
        self._done = False

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: self._done)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._touched

    @workflow.update
    def touch(self, n: int) -> int:
        self._touched += 1
        return n

    @workflow.signal
    def finish(self) -> None:
        self._done = True


def floor_workflow_id(round_id: str, partner: str) -> str:
    return f"bench-floor-{round_id}-{partner}"


def main(argv: list[str] | None = None) -> None:
    import argparse
    import asyncio
    import dataclasses
    import signal

    from temporalio.worker import Worker

    from benchmarks import floor  # the class from its module's own name, not __main__, for the sandbox
    from offerdesk.config import Settings
    from offerdesk.engine import connect

    parser = argparse.ArgumentParser(description="The floor workflow's worker (see benchmarks/floor.py).")
    parser.add_argument("--address", required=True, help="Temporal's host:port")
    parser.add_argument("--task-queue", default=FLOOR_QUEUE)
    args = parser.parse_args(argv)
    settings = dataclasses.replace(Settings.from_env(), temporal_address=args.address)

    async def serve() -> None:
        client = await connect(settings, verbose=True)  # Settings.converter(): the keyring's encryption
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with Worker(client, task_queue=args.task_queue, workflows=[floor.FloorWorkflow]):
            await stop.wait()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
