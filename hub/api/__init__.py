"""The SOAP boundary: the hardened WSGI entry point, the Spyne application, fault mapping."""
