"""DSP917, the Judicial Council's court -> CCPOR exchange: what FACCTS and CCMS courts send.

``notification`` reads a validated ``DSP917CAJUDReqInput`` (the ISB header, the case, the order,
its people by ``s:id``/``s:ref``); ``codes`` holds the translations of the specification's code
lists into the registry's and the business-response error codes; ``mapping`` turns a notification
into the canonical order (xsd/ccpor-order.xsd) field by field, following
``xsd/dsp917/mapping/request-mapping.csv``, and says what it kept without a place; ``intake`` is
the use case -- add, update or cancel through the ordinary order service, idempotent by the ISB
header, the notification stored with the order version it made; ``isb`` writes the ISB receipt
and the ISB error detail of a fault. Nothing here knows about HTTP (the SOAP side is
``hub.api.dsp917_api``).
"""
