"""Use cases: one function per action, each one transaction with its audit event.

The web API and the CLI call these; neither touches storage directly. Errors are the
domain's (openlfr.governance.errors) plus PermissionDenied and LoginFailed.
"""
