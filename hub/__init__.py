"""CCPOR Hub: the web-services integration hub of the California Courts Protective Order Registry."""

__version__ = "0.1.0"
