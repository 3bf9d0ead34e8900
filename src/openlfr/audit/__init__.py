"""The audit log: append-only, hash-chained, verifiable from the CLI."""

from openlfr.audit.chain import (
    ChainVerification,
    append_event,
    defer_head_moves,
    lock_head,
    verify_chain,
)

__all__ = ["ChainVerification", "append_event", "defer_head_moves", "lock_head",
           "verify_chain"]
