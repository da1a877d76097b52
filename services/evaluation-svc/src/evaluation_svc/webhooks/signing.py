"""Signatures of outbound deliveries and the address check of targets (pure apart from DNS)."""

import asyncio
import hashlib
import hmac
import ipaddress
import socket
from collections.abc import Sequence
from urllib.parse import urlsplit

SIGNATURE_HEADER = "X-Pledge-Signature"
TIMESTAMP_HEADER = "X-Pledge-Timestamp"
EVENT_HEADER = "X-Pledge-Event"
DELIVERY_HEADER = "X-Pledge-Delivery"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex>` of HMAC-SHA256(secret, timestamp + "." + body): receivers recompute and compare, and
    refuse timestamps too old (replays)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={mac}"


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


ANYWHERE: tuple[Network, ...] = (ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0"))


def parse_networks(values: Sequence[str], allow_private: bool = False) -> list[Network]:
    if allow_private:
        return list(ANYWHERE)
    return [ipaddress.ip_network(v, strict=False) for v in values]


def refused_reason(address: IPAddress, allowed: Sequence[Network]) -> str | None:
    """Why an address may not be a webhook target (None: it may)."""
    if any(address in net for net in allowed):
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return refused_reason(address.ipv4_mapped, allowed)
    for flag in ("is_loopback", "is_private", "is_link_local", "is_multicast", "is_reserved", "is_unspecified"):
        if getattr(address, flag):
            return f"{address} is {flag.removeprefix('is_').replace('_', '-')}"
    return None


def check_url_shape(url: str) -> tuple[str, int]:
    """(host, port) of an http(s) URL; ValueError when it is not one."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError("must be an http or https URL")
    if not parts.hostname:
        raise ValueError("has no host")
    if parts.username or parts.password:
        raise ValueError("must not carry credentials")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ValueError("has an invalid port") from None
    return parts.hostname, port


async def resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(info[4][0]) for info in infos]


async def target_refused(url: str, allowed: Sequence[Network]) -> str | None:
    """Why `url` may not receive deliveries now (None: it may). Checked at subscription and per attempt,
    so a name re-pointed at a private address later is refused too."""
    try:
        host, port = check_url_shape(url)
        addresses = await resolve(host, port)
    except ValueError as err:
        return f"url {err}"
    except OSError:
        return "url host does not resolve"
    for address in addresses:
        reason = refused_reason(address, allowed)
        if reason is not None:
            return f"url resolves to a refused address ({reason}); allow it in EVALUATION_WEBHOOK_ALLOWED_NETWORKS"
    return None
