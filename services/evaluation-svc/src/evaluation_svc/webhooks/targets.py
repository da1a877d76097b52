"""Where a webhook may be delivered, and delivering to exactly the address that was checked.

The rule: a target's host is resolved once; every address it resolves to must be globally routable (the
standard library's `is_global`, and neither reserved, site-local nor multicast), and so must the IPv4 address
that an IPv6 one carries inside it (IPv4-mapped `::ffff:a.b.c.d`, 6to4 `2002:aabb:ccdd::/48`, Teredo's client,
NAT64 `64:ff9b::a.b.c.d`); otherwise the target is refused. The delivery then connects to the first checked
address itself, sending the hostname as `Host` and as the TLS server name (certificate verification stays on
the hostname), so a name that re-points between check and connection (DNS rebinding) changes nothing.

Networks listed in EVALUATION_WEBHOOK_ALLOWED_NETWORKS are accepted whatever their class (EVALUATION_WEBHOOK_
ALLOW_PRIVATE accepts every address: tests and local runs).
"""

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

ANYWHERE: tuple[Network, ...] = (ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0"))
# IPv6 prefixes whose last 32 bits are an IPv4 address that a translator on the path reaches (RFC 6052, 8215)
NAT64_PREFIXES = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


class TargetRefused(Exception):
    """The target may not receive deliveries (the message says why)."""


def parse_networks(values: Sequence[str], allow_private: bool = False) -> list[Network]:
    if allow_private:
        return list(ANYWHERE)
    return [ipaddress.ip_network(v, strict=False) for v in values]


def embedded_ipv4(address: IPAddress) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries and that traffic to it may end up at."""
    if not isinstance(address, ipaddress.IPv6Address):
        return []
    found: list[ipaddress.IPv4Address] = []
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)  # (server, client)
    if any(address in prefix for prefix in NAT64_PREFIXES):
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def refused_reason(address: IPAddress, allowed: Sequence[Network]) -> str | None:
    """Why an address may not be a webhook target (None: it may)."""
    if any(address in net for net in allowed):
        return None
    for inner in embedded_ipv4(address):
        reason = refused_reason(inner, allowed)
        if reason is not None:
            return f"{address} carries {inner}: {reason}"
    if address.is_unspecified or address.is_loopback or address.is_link_local or address.is_multicast:
        return f"{address} is not a unicast address on the internet"
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return f"{address} is site-local"
    if address.is_reserved or not address.is_global:
        return f"{address} is not globally routable"
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
    """The addresses of `host` (a literal address is itself), in the resolver's order, each once."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).partition("%")[0])  # no zone index
        if address not in addresses:
            addresses.append(address)
    return addresses


@dataclass(frozen=True, slots=True)
class CheckedTarget:
    url: httpx.URL
    address: IPAddress  # where the delivery connects: an address that passed the check


async def check_target(url: str, allowed: Sequence[Network]) -> CheckedTarget:
    """Resolve once and check every address; TargetRefused when the URL or any address may not be used."""
    try:
        host, port = check_url_shape(url)
        addresses = await resolve(host, port)
    except ValueError as err:
        raise TargetRefused(f"url {err}") from None
    except OSError:
        raise TargetRefused("url host does not resolve") from None
    if not addresses:
        raise TargetRefused("url host does not resolve")
    for address in addresses:
        reason = refused_reason(address, allowed)
        if reason is not None:
            raise TargetRefused(
                f"url resolves to a refused address ({reason}); allow it in EVALUATION_WEBHOOK_ALLOWED_NETWORKS"
            )
    return CheckedTarget(httpx.URL(url), addresses[0])


async def target_refused(url: str, allowed: Sequence[Network]) -> str | None:
    """Why `url` may not receive deliveries now (None: it may). Checked at subscription and again at each
    attempt, so a name re-pointed at a refused address later is refused too."""
    try:
        await check_target(url, allowed)
    except TargetRefused as refused:
        return str(refused)
    return None


def pinned_request(target: CheckedTarget, content: bytes, headers: Mapping[str, str]) -> httpx.Request:
    """A POST to the checked address itself: the URL's host replaced by the address, the hostname kept as
    `Host` and, over TLS, as the server name sent and verified (`sni_hostname`)."""
    url = target.url
    host_header = url.netloc.decode("ascii").rpartition("@")[2]
    request = httpx.Request(
        "POST",
        url.copy_with(host=str(target.address)),
        content=content,
        headers={**headers, "Host": host_header},
        extensions={"sni_hostname": url.host} if url.scheme == "https" else {},
    )
    return request


def delivery_client(timeout: float, verify: ssl.SSLContext | bool = True) -> httpx.AsyncClient:
    """The client deliveries go out with: no proxy from the environment (it would resolve the name again), no
    redirects, and no kept connections (a connection opened and verified for one hostname must not carry a
    delivery for another name that resolved to the same address)."""
    return httpx.AsyncClient(
        timeout=timeout,
        verify=verify,
        follow_redirects=False,
        trust_env=False,
        limits=httpx.Limits(max_keepalive_connections=0),
    )


async def post_checked(
    client: httpx.AsyncClient, url: str, allowed: Sequence[Network], content: bytes, headers: Mapping[str, str]
) -> httpx.Response:
    """Check the target, then POST to the address that was checked. TargetRefused, or httpx errors."""
    target = await check_target(url, allowed)
    return await client.send(pinned_request(target, content, headers), follow_redirects=False)
