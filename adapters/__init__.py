"""Partner adapters (DMS scan drops, FACCTS exports, sheriff RMS): later issues fill this package."""
