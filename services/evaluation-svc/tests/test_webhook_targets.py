"""Where webhooks may go: globally routable addresses only (embedded IPv4 included), and the connection goes
to the address that was checked, with the hostname kept for Host and TLS."""

import datetime as dt
import ipaddress
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from evaluation_svc.webhooks import targets
from evaluation_svc.webhooks.targets import (
    CheckedTarget,
    IPAddress,
    TargetRefused,
    delivery_client,
    pinned_request,
    post_checked,
    refused_reason,
)

LOOPBACK_ONLY = [ipaddress.ip_network("127.0.0.1/32")]


@pytest.mark.parametrize(
    "address",
    [
        "100.100.100.200",  # shared address space 100.64.0.0/10: a cloud's metadata service
        "100.64.0.1",
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "2002:a9fe:a9fe::",  # 6to4 of 169.254.169.254
        "2002:a00:1::",  # 6to4 of 10.0.0.1
        "fec0::1",  # site-local
        "::ffff:169.254.169.254",  # IPv4-mapped
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo, client 127.0.0.1
        "::7f00:1",  # IPv4-compatible 127.0.0.1
        "fd00:ec2::254",  # unique local: a cloud's IPv6 metadata service
        "169.254.169.254",
        "192.0.0.170",
        "198.18.0.1",
        "0.0.0.0",
        "::",
        "224.0.0.1",
        "ff02::1",
    ],
)
def test_addresses_that_are_not_globally_routable_are_refused(address: str) -> None:
    assert refused_reason(ipaddress.ip_address(address), []) is not None


@pytest.mark.parametrize("address", ["8.8.8.8", "93.184.216.34", "2606:4700:4700::1111", "2002:808:808::"])
def test_globally_routable_addresses_are_accepted(address: str) -> None:
    assert refused_reason(ipaddress.ip_address(address), []) is None


def test_an_allowed_network_accepts_its_addresses_and_their_embedded_forms() -> None:
    allowed = [ipaddress.ip_network("127.0.0.0/8")]
    assert refused_reason(ipaddress.ip_address("127.0.0.1"), allowed) is None
    assert refused_reason(ipaddress.ip_address("2002:7f00:1::1"), allowed) is None
    assert refused_reason(ipaddress.ip_address("10.0.0.1"), allowed) is not None


@pytest.mark.parametrize(
    "url", ["http://100.100.100.200/latest/meta-data", "http://[2002:a9fe:a9fe::]/", "http://[fec0::1]/hook"]
)
async def test_subscribing_such_an_address_is_422_naming_the_url(client: httpx.AsyncClient, url: str) -> None:
    response = await client.post("/v1/webhooks", json={"url": url})
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "url"


class FakeDns:
    """The name server, at the edge: answers a checked address first, then another (a rebinding attack)."""

    def __init__(self, *answers: str) -> None:
        self.answers = [ipaddress.ip_address(a) for a in answers]
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> list[IPAddress]:
        self.asked.append(host)
        try:
            return [ipaddress.ip_address(host)]
        except ValueError:
            pass
        return [self.answers[min(len(self.asked), len(self.answers)) - 1]]


@pytest.fixture
async def http_receiver() -> AsyncIterator[tuple[int, list[str]]]:
    hosts: list[str] = []

    async def hook(request: web.Request) -> web.Response:
        hosts.append(request.host)
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield site._server.sockets[0].getsockname()[1], hosts  # type: ignore[union-attr]
    finally:
        await runner.cleanup()


async def test_the_delivery_connects_to_the_address_that_was_checked(
    monkeypatch: pytest.MonkeyPatch, http_receiver: tuple[int, list[str]]
) -> None:
    port, hosts = http_receiver
    dns = FakeDns("127.0.0.1", "10.0.0.1")  # checked: 127.0.0.1; a second lookup would get 10.0.0.1
    monkeypatch.setattr(targets, "resolve", dns)
    async with delivery_client(5.0) as client:
        response = await post_checked(
            client, f"http://hooks.partner.test:{port}/hook", LOOPBACK_ONLY, content=b"{}", headers={}
        )
    assert response.status_code == 204
    assert dns.asked == ["hooks.partner.test"]  # resolved once
    assert hosts == [f"hooks.partner.test:{port}"]  # the hostname travels as Host


async def test_a_name_that_resolves_to_a_refused_address_is_not_contacted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(targets, "resolve", FakeDns("100.100.100.200"))
    async with delivery_client(5.0) as client:
        with pytest.raises(TargetRefused, match=r"100\.100\.100\.200"):
            await post_checked(client, "http://metadata.partner.test/latest", [], content=b"{}", headers={})


def test_a_pinned_request_keeps_the_hostname_for_host_and_tls() -> None:
    target = CheckedTarget(httpx.URL("https://hooks.partner.test:8443/in?x=1"), ipaddress.ip_address("2606:4700::1"))
    request = pinned_request(target, b"{}", {"X-Pledge-Event": "alert.raised"})
    assert str(request.url) == "https://[2606:4700::1]:8443/in?x=1"
    assert request.headers["host"] == "hooks.partner.test:8443"
    assert request.extensions["sni_hostname"] == "hooks.partner.test"
    assert request.headers["x-pledge-event"] == "alert.raised"


def _certificate(tmp_path: Path, hostname: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a certificate for `hostname` signed by a fresh CA, and a client context that
    trusts only that CA (and verifies host names)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pledge test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "leaf.pem", tmp_path / "leaf.key"
    cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cadata=ca.public_bytes(serialization.Encoding.PEM).decode())
    return server, client


async def test_tls_is_verified_on_the_hostname_while_connecting_to_the_checked_address(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    server_tls, client_tls = _certificate(tmp_path, "hooks.partner.test")
    names: list[str | None] = []

    async def hook(request: web.Request) -> web.Response:
        return web.Response(status=204)

    def sni(sock: ssl.SSLObject, name: str | None, context: ssl.SSLContext) -> None:
        names.append(name)

    server_tls.sni_callback = sni  # type: ignore[assignment]
    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_tls)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    monkeypatch.setattr(targets, "resolve", FakeDns("127.0.0.1"))
    try:
        async with delivery_client(5.0, verify=client_tls) as client:
            response = await post_checked(
                client, f"https://hooks.partner.test:{port}/hook", LOOPBACK_ONLY, content=b"{}", headers={}
            )
            assert response.status_code == 204
            assert names == ["hooks.partner.test"]
            # a certificate for another name fails verification: the name checked is the URL's
            monkeypatch.setattr(targets, "resolve", FakeDns("127.0.0.1"))
            with pytest.raises(httpx.ConnectError):
                await post_checked(
                    client, f"https://other.partner.test:{port}/hook", LOOPBACK_ONLY, content=b"{}", headers={}
                )
    finally:
        await runner.cleanup()
