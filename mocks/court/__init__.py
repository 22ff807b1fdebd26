"""The mock court (``ccpor-hub mock-court``): a court's DSP917 business-response service
(``DSP917CAJUDResp``, operation ``Notify``), the stand-in the hub delivers its business responses to
-- the CCPOR order id, DOJ's FCN, or an error code and text -- as the mock DOJ switch stands in for
CARPOS.

It serves the official concrete WSDL at its official path, checks every message against the
official schema and the hub's UsernameToken, records what it takes (duplicates flagged) and what it
refuses, and injects the faults its database holds (down, slow, failing): tests and operators read
and change both through ``mocks.court.store.CourtStore``.

``business`` reads a business response and makes the ISB receipt, ``auth`` the UsernameToken check,
``faults`` the fault plan and its rule, ``models`` its tables, ``store`` every statement on them,
``service`` the SOAP service, ``server`` the gunicorn app factory, ``settings`` its settings.
"""
