"""Mock partner systems: stand-ins for the systems the hub talks to (the DOJ switch; a court's response
service next). Not part of the product's runtime path: they use the hub's public SOAP edge and CARPOS
format like any outside system would, and only the command line starts them."""
