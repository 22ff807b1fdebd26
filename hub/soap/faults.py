"""HubError -> SOAP 1.1 fault, in one place, for both paths that can answer with a fault.

A fault looks like this whichever layer raised it::

    <soap11env:Fault>
      <faultcode>soap11env:Client.ValidationError</faultcode>
      <faultstring>the order does not satisfy the ACTIVE profile (2 problems)</faultstring>
      <faultactor></faultactor>
      <detail>
        <svc:FaultDetail>
          <svc:Code>Client.ValidationError</svc:Code>
          <svc:Violation><svc:Path>/svc:SubmitOrder/svc:Order/ord:CaseDocketID</svc:Path>
                         <svc:Message>...</svc:Message></svc:Violation>
        </svc:FaultDetail>
      </detail>
    </soap11env:Fault>

The code in ``faultcode`` is stable and machine-readable; ``svc:Code`` repeats it without the
SOAP prefix for toolkits that mangle qualified fault codes.
"""

from __future__ import annotations

from collections.abc import Callable

from lxml import etree
from spyne.model.fault import Fault

from hub import ns
from hub.errors import HubError

_SVC = ns.ORDERS_SERVICE


def detail(err: HubError) -> etree._Element:
    root = etree.Element(ns.q(_SVC, "FaultDetail"), nsmap={"svc": _SVC})
    etree.SubElement(root, ns.q(_SVC, "Code")).text = err.code
    for v in err.violations:
        item = etree.SubElement(root, ns.q(_SVC, "Violation"))
        etree.SubElement(item, ns.q(_SVC, "Path")).text = v.path
        etree.SubElement(item, ns.q(_SVC, "Message")).text = v.message
    return root


#: What a service puts in a fault's ``detail`` (the hub's services: :func:`detail`; DSP917 adds the
#: ISB common error message before it).
Detail = Callable[[HubError], list[etree._Element]]


def hub_detail(err: HubError) -> list[etree._Element]:
    return [detail(err)]


def to_spyne(err: HubError) -> Fault:
    """The Spyne fault for ``err`` (raised inside the Spyne application)."""
    return Fault(faultcode=err.code, faultstring=err.message, detail=detail(err))


def envelope(err: HubError, details: Detail = hub_detail) -> bytes:
    """A complete SOAP 1.1 fault envelope (answered by the entry point before Spyne runs, and by the
    bare document services of :mod:`hub.soap.document`)."""
    env = etree.Element(ns.q(ns.SOAP11_ENV, "Envelope"), nsmap={"soap11env": ns.SOAP11_ENV})
    body = etree.SubElement(env, ns.q(ns.SOAP11_ENV, "Body"))
    fault = etree.SubElement(body, ns.q(ns.SOAP11_ENV, "Fault"))
    etree.SubElement(fault, "faultcode").text = f"soap11env:{err.code}"
    etree.SubElement(fault, "faultstring").text = err.message
    etree.SubElement(fault, "faultactor").text = ""
    holder = etree.SubElement(fault, "detail")
    for element in details(err):
        holder.append(element)
    return etree.tostring(env, xml_declaration=True, encoding="UTF-8")


def answer(element: etree._Element) -> bytes:
    """A complete SOAP 1.1 envelope whose Body holds ``element``."""
    env = etree.Element(ns.q(ns.SOAP11_ENV, "Envelope"), nsmap={"soap11env": ns.SOAP11_ENV})
    etree.SubElement(env, ns.q(ns.SOAP11_ENV, "Body")).append(element)
    return etree.tostring(env, xml_declaration=True, encoding="UTF-8")
