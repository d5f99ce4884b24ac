"""The tests' PostgreSQL server: the benchmark's (benchmarks/postgres.py), which its portal part starts too."""

from benchmarks.postgres import USER, NoPostgres, Postgres, binaries

__all__ = ["USER", "NoPostgres", "Postgres", "binaries"]
