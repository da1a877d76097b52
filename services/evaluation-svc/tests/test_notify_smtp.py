"""Email over a real SMTP server (aiosmtpd on loopback) that requires STARTTLS and authentication, with a
throwaway self-signed certificate made for the test: the sender authenticates only inside TLS, refuses a server
whose certificate it does not trust (unless its CA is configured) and one that does not offer STARTTLS, and never
sends the password in either case."""

import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from evaluation_svc.config import Settings
from evaluation_svc.notify.email import Security, SmtpConfig, build_email, send_email
from evaluation_svc.notify.service import smtp_config
from pydantic import SecretStr

USER, PASSWORD = "pledge", "s3cret-smtp"
CONTENT = {"subject": "预警: repair", "text": "plain", "html": "<p>html</p>"}


@dataclass
class Server:
    port: int
    cert_file: Path
    received: list[tuple[EmailMessage, bool]] = field(default_factory=list)  # (message, over TLS)
    logins: list[tuple[str, bool, bool]] = field(default_factory=list)  # (user, over TLS, accepted)


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by its own key (its own CA), valid for a day."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pledge test smtp")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "smtp.pem", directory / "smtp.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def over_tls(smtp: Any, session: Any) -> bool:
    """The session runs inside TLS: upgraded by STARTTLS (`session.ssl`) or TLS from the first byte."""
    return session.ssl is not None or smtp.transport.get_extra_info("ssl_object") is not None


def start(server: Server, **smtp: Any) -> Controller:
    class Handler:
        async def handle_DATA(self, smtp: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
            message = message_from_bytes(envelope.content, policy=policy.default)
            server.received.append((message, over_tls(smtp, session)))  # type: ignore[arg-type]
            return "250 Message accepted for delivery"

    def authenticator(smtp: Any, session: Any, _: Any, mechanism: str, data: Any) -> AuthResult:
        assert isinstance(data, LoginPassword), mechanism
        accepted = (data.login.decode(), data.password.decode()) == (USER, PASSWORD)
        server.logins.append((data.login.decode(), over_tls(smtp, session), accepted))
        return AuthResult(success=accepted, handled=False)  # not handled: the server answers 535

    controller = Controller(Handler(), hostname="127.0.0.1", port=server.port, authenticator=authenticator, **smtp)
    controller.start()
    return controller


@pytest.fixture
def starttls_server(tmp_path: Path) -> Iterator[Server]:
    """Requires STARTTLS before anything else, and AUTH (only inside TLS) before mail."""
    cert_file, key_file = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    server = Server(free_port(), cert_file)
    controller = start(server, tls_context=context, require_starttls=True, auth_required=True, auth_require_tls=True)
    try:
        yield server
    finally:
        controller.stop()


@pytest.fixture
def implicit_tls_server(tmp_path: Path) -> Iterator[Server]:
    """TLS from the first byte (port 465 style), AUTH offered (aiosmtpd's own "AUTH only inside TLS" knows only
    STARTTLS, so it is off here: the test checks the login came over TLS)."""
    cert_file, key_file = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    server = Server(free_port(), cert_file)
    controller = start(server, ssl_context=context, auth_require_tls=False)
    try:
        yield server
    finally:
        controller.stop()


@pytest.fixture
def plain_server(tmp_path: Path) -> Iterator[Server]:
    """Offers no STARTTLS at all (and would take AUTH in clear): a downgrade the sender must refuse."""
    server = Server(free_port(), tmp_path / "none.pem")
    controller = start(server, auth_require_tls=False)
    try:
        yield server
    finally:
        controller.stop()


def config(
    server: Server, *, ca_file: Path | None, password: str = PASSWORD, security: Security = "starttls"
) -> SmtpConfig:
    return SmtpConfig(
        host="127.0.0.1", port=server.port, security=security, username=USER, password=password,
        sender="pledge@example.cn", timeout=5, ca_file=None if ca_file is None else str(ca_file),
    )  # fmt: skip


async def test_the_sender_authenticates_inside_tls_with_the_configured_ca(
    starttls_server: Server, settings: Settings
) -> None:
    configured = smtp_config(
        settings.model_copy(
            update={
                "smtp_host": "127.0.0.1", "smtp_port": starttls_server.port, "smtp_security": "starttls",
                "smtp_username": USER, "smtp_password": SecretStr(PASSWORD),
                "smtp_ca_file": str(starttls_server.cert_file),
            }
        )
    )  # fmt: skip
    assert configured is not None
    assert PASSWORD not in repr(configured)
    email = build_email("pledge@example.cn", "head@example.cn", CONTENT)
    answer = await send_email(configured, email)
    assert answer.startswith("Message accepted")
    assert starttls_server.logins == [(USER, True, True)]  # once, over TLS, accepted
    [(message, over_tls)] = starttls_server.received
    assert over_tls
    assert (message["To"], message["Subject"]) == ("head@example.cn", "预警: repair")


async def test_an_untrusted_certificate_is_refused_before_the_password_goes(starttls_server: Server) -> None:
    email = build_email("pledge@example.cn", "head@example.cn", CONTENT)
    with pytest.raises(ssl.SSLCertVerificationError):  # an OSError: the notifier records it as the attempt's error
        await send_email(config(starttls_server, ca_file=None), email)  # the system's CAs do not know it
    assert starttls_server.logins == []
    assert starttls_server.received == []


async def test_a_wrong_password_is_the_servers_535(starttls_server: Server) -> None:
    email = build_email("pledge@example.cn", "head@example.cn", CONTENT)
    with pytest.raises(aiosmtplib.SMTPAuthenticationError) as refused:
        await send_email(config(starttls_server, ca_file=starttls_server.cert_file, password="wrong"), email)
    assert refused.value.code == 535
    assert starttls_server.logins  # the client tries each mechanism the server offers: every one inside TLS
    assert all(user == USER and over_tls and not accepted for user, over_tls, accepted in starttls_server.logins)
    assert starttls_server.received == []


async def test_a_server_without_starttls_is_refused_and_the_password_never_sent(plain_server: Server) -> None:
    email = build_email("pledge@example.cn", "head@example.cn", CONTENT)
    with pytest.raises(aiosmtplib.SMTPException):
        await send_email(config(plain_server, ca_file=None), email)
    assert plain_server.logins == []
    assert plain_server.received == []


async def test_implicit_tls_too_with_its_certificate_verified(implicit_tls_server: Server) -> None:
    email = build_email("pledge@example.cn", "head@example.cn", CONTENT)
    with pytest.raises(aiosmtplib.SMTPConnectError, match="certificate verify failed"):
        await send_email(config(implicit_tls_server, ca_file=None, security="tls"), email)
    assert implicit_tls_server.logins == []
    trusted = config(implicit_tls_server, ca_file=implicit_tls_server.cert_file, security="tls")
    assert (await send_email(trusted, email)).startswith("Message accepted")
    assert implicit_tls_server.logins == [(USER, True, True)]
    assert [over_tls for _, over_tls in implicit_tls_server.received] == [True]
