"""The client's address: the peer's, or what a trusted reverse proxy says it forwarded.

``Forwarded`` (RFC 7239), ``X-Forwarded-For`` and ``X-Real-IP`` are read only when the peer
is a configured trusted proxy; otherwise any client could name the address its sign-in
attempts are counted under.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_network(text: str) -> Network:
    """'10.0.0.5', '10.0.0.0/8' or '2001:db8::/32' (host bits may be set)."""
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise ValueError(f"not an IP address or CIDR block: {text!r} "
                         "(e.g. 10.0.0.5 or 10.0.0.0/8)") from None


def _address(text: str | None) -> Address | None:
    """An address from a header's hop ('1.2.3.4', '1.2.3.4:80', '[::1]:80', '"[::1]"')."""
    if not text:
        return None
    text = text.strip().strip('"').strip()
    if text.startswith("["):  # [IPv6] or [IPv6]:port
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:  # IPv4:port
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None  # "unknown", an obfuscated name (RFC 7239 section 6.3) or garbage
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _forwarded_for(values: Iterable[str]) -> list[str]:
    """The ``for=`` of each element of Forwarded headers, client first."""
    hops = []
    for value in values:
        for element in value.split(","):
            found = ""
            for pair in element.split(";"):
                key, _, val = pair.partition("=")
                if key.strip().lower() == "for":
                    found = val
            hops.append(found)
    return hops


def _hops(headers: Sequence[tuple[str, str]]) -> list[str]:
    """The forwarding chain, client first, from the first of the three headers present."""
    by_name: dict[str, list[str]] = {}
    for name, value in headers:
        by_name.setdefault(name.lower(), []).append(value)
    if "forwarded" in by_name:
        return _forwarded_for(by_name["forwarded"])
    if "x-forwarded-for" in by_name:
        return [hop for value in by_name["x-forwarded-for"] for hop in value.split(",")]
    if "x-real-ip" in by_name:
        return by_name["x-real-ip"][-1:]
    return []


def client_address(peer: str | None, headers: Sequence[tuple[str, str]],
                   trusted: Sequence[Network]) -> str:
    """The address to count a request under: walking the forwarding chain from the peer
    backwards, the first hop that is not a trusted proxy (each proxy appends the address it
    saw, so everything left of it may be made up by the client)."""
    address = _address(peer)
    if address is None:
        return peer or "unknown"
    if not trusted:
        return str(address)
    for hop in reversed(_hops(headers)):
        if not any(address in net for net in trusted):
            break
        forwarded = _address(hop)
        if forwarded is None:
            break  # an unusable hop: count under the last proxy we trust
        address = forwarded
    return str(address)
