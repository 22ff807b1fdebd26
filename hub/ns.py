"""Every XML namespace the hub speaks, in one place."""

ORDER = "urn:ca:courts:ccpor:order:1"
ORDERS_SERVICE = "urn:ca:courts:ccpor:orders:1"
ADMIN_SERVICE = "urn:ca:courts:ccpor:admin:1"
CARPOS_SERVICE = "urn:ca:courts:ccpor:carpos:1"

SOAP11_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_ENV = "http://www.w3.org/2003/05/soap-envelope"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
# A token-profile URI, not a password.
WSSE_PASSWORD_TEXT = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText"  # noqa: S105
XSD = "http://www.w3.org/2001/XMLSchema"


def q(namespace: str, local: str) -> str:
    """Clark notation ``{namespace}local`` as lxml uses it."""
    return f"{{{namespace}}}{local}"


ORDER_PROFILES = "urn:ca:courts:ccpor:order-profiles:1"
#: A court's historical orders for `ccpor-hub etl load` (xsd/ccpor-historical-batch.xsd).
HISTORICAL_BATCH = "urn:ca:courts:ccpor:historical-batch:1"

# DSP917, the Judicial Council's court -> CCPOR exchange (xsd/dsp917/, the official files).
DSP917_REQ_INPUT = "http://isb.srv.courts-tc.ca.gov/portal/cajud/Schema/DSP917CAJUDReqInput/2.0.0/xsd"
DSP917_REQ_OUTPUT = "http://isb.srv.courts-tc.ca.gov/portal/cajud/Schema/DSP917CAJUDReqOutput/1.0.0/xsd"
DSP917_REQ = "https://isb.srv.courts-tc.ca.gov/portal/cajud/schema/dsp917req/2.0.0/xsd"
DSP917_RESP_INPUT = "http://isb.srv.courts-tc.ca.gov/portal/cajud/Schema/DSP917CAJUDRespInput/2.0.0/xsd"
DSP917_RESP_OUTPUT = "http://isb.srv.courts-tc.ca.gov/portal/cajud/Schema/DSP917CAJUDRespOutput/1.0.0/xsd"
DSP917_RESP = "https://isb.srv.courts-tc.ca.gov/portal/cajud/schema/dsp917resp/2.0.0/xsd"
_DSP917_NIEM = "CAJUD/CCMS/SendRestrainingOrderNotification-DSP917/Request"
DSP917_NC = f"http://niem.gov/niem/niem-core/2.0/{_DSP917_NIEM}"
DSP917_J = f"http://niem.gov/niem/domains/jxdm/4.0/{_DSP917_NIEM}"
DSP917_S = f"http://niem.gov/niem/structures/2.0/{_DSP917_NIEM}"
_ISB = "https://isb.srv.courts-tc.ca.gov/portal/isb/schema/ALL/ISBServices/CommonServices"
ISB_HEADER = f"{_ISB}/2.0.0"
ISB_RESPONSE = f"{_ISB}/Response/1.0.0"
ISB_ERROR = f"{_ISB}/Error/1.0.0"
ISB_PARAMS = f"{_ISB}/AdditionalParams/1.0.0"
DSP917_RESP_NC = "http://niem.gov/niem/niem-core/2.0/CAJUD/CCMS/SendRestrainingOrderNotification-DSP917/Response"
