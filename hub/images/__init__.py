"""Order images: content checks, the content-addressed store interface and its backends."""
