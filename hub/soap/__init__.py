"""The SOAP edge every service of ours stands on -- the hub's three and the mock partner systems'.

``endpoint`` (the hardened entry point: the only reader of request bytes, and the router),
``protocol`` (Spyne's SOAP 1.1 taking the tree the entry point parsed), ``faults`` (HubError ->
SOAP fault, in one place), ``bindings`` (Spyne types and operations generated from an XSD),
``wsdl`` (the service class, its WSDL, the address it is served with), ``operations`` (what each
operation declares: read-only, retried on a conflict, who may call). It knows none of the hub's
services, rules or tables (import contract ``soap-edge``).
"""
