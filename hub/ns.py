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
