"""Orders: the canonical document, the rules, the lifecycle services and search."""
