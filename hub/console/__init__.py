"""The administrators' web console (``/console``): server-rendered pages over the same use cases as
``/ws/admin`` -- the outbox's queue views, account administration, edit locks, the audit trail and
the monthly reports -- behind a login of its own (hub.console.sessions)."""
