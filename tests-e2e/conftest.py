"""End-to-end: the whole suite as real processes on free ports, against a fresh database."""

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pledge_dev.pg import fresh_database
from pledge_dev.suite import Suite, running_suite
from support import USER_TOKEN_AUDIENCE, USER_TOKEN_ISSUER, MailSink, running_mail_sink


@pytest.fixture(scope="session")
def user_token_key() -> rsa.RSAPrivateKey:
    """The private key of the test identity provider whose tokens the suite's gateway accepts."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def mail_sink() -> Iterator[MailSink]:
    """A real SMTP server (aiosmtpd) on loopback: evaluation-svc sends its emails there."""
    with running_mail_sink() as sink:
        yield sink


@pytest.fixture(scope="session")
def suite(
    tmp_path_factory: pytest.TempPathFactory, user_token_key: rsa.RSAPrivateKey, mail_sink: MailSink
) -> Iterator[Suite]:
    """Started once per e2e session; scanners tick fast so that alert tests need not wait long."""
    log_dir: Path = tmp_path_factory.mktemp("suite-logs")
    public_pem = user_token_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    fast = {
        "EVALUATION_SCANNER_INTERVAL": "0.2",
        "EVALUATION_WEBHOOK_ALLOW_PRIVATE": "true",
        "EVALUATION_NOTIFY_POLL_SECONDS": "0.2",
        "EVALUATION_SMTP_HOST": "127.0.0.1",
        "EVALUATION_SMTP_PORT": str(mail_sink.port),
        "EVALUATION_SMTP_SECURITY": "none",
        "EVALUATION_SMTP_FROM": "pledge@example.cn",
        "FEEDBACK_SENDER_INTERVAL": "0.2",
        "GATEWAY_JWT_PUBLIC_KEY": public_pem.decode(),
        "GATEWAY_JWT_ISSUER": USER_TOKEN_ISSUER,
        "GATEWAY_JWT_AUDIENCE": USER_TOKEN_AUDIENCE,
        "GATEWAY_JWT_ROLES_CLAIM": "realm_access.roles",
        "GATEWAY_JWT_DEPARTMENT_CLAIM": "department",
    }
    with (
        fresh_database("test") as database_url,
        running_suite(database_url, extra_env=fast, log_dir=log_dir, key_file=log_dir / "admin-key") as started,
    ):
        yield started


@pytest.fixture
async def gateway(suite: Suite) -> AsyncIterator[httpx.AsyncClient]:
    """A client on the gateway carrying the admin credentials (when the gateway issues keys)."""
    headers = {"Authorization": f"Bearer {suite.admin_key}"} if suite.admin_key else {}
    async with httpx.AsyncClient(base_url=suite.gateway_url, headers=headers, timeout=30) as client:
        yield client
