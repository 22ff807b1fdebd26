"""Mock partner systems: stand-ins for the systems the hub talks to (the DOJ switch, ``mocks.doj``; a
court's DSP917 business-response service, ``mocks.court``). Not part of the product's runtime path:
they stand on the hub's public SOAP edge (hub.soap) and speak the partners' formats like any outside
system would, and only the command line starts them. ``mocks.soap`` is what they share on that edge
(a SOAP answer with its HTTP status, fault injection in front of a service)."""
