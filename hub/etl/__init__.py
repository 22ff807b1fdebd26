"""Historical loads: a court's years of orders into the registry (``ccpor-hub etl``), through the
order service with the rules, history and audit of a submission (hub.etl.load), and realistic
sample batches to test and measure them with (hub.etl.sample)."""
