"""The mock DOJ switch (``ccpor-hub mock-doj``): a separate process that plays CARPOS for the gateway.

It behaves like the real store-and-forward switch as far as the hub can tell (the real CLETS
layouts are not public; this is our definition, DOMAIN.md section 3): it verifies the hub's
signature and decrypts, validates the envelope and the CARPOS fields, keeps a registry (enter,
modify, serve, clear, cancel; FCN assignment), rejects duplicates and unknown records in NCIC
words, de-duplicates resends by MCN, answers queries (its registry is seeded with other agencies'
orders), and puts signed, encrypted answers in the hub's mailbox. Faults are injected by settings
(mocks.doj.settings.SwitchSettings): latency, errors, dropped, duplicated and reordered answers, downtime.

``models`` its own tables (its own database), ``registry`` what a transaction does, ``faults`` the
fault plan, ``service`` the SOAP service and its WSGI application.
"""
