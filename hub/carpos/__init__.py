"""The hub's side of CARPOS: the outbox an order change writes, DOJ's messages (CLETS data), the queues."""
