"""Email over SMTP (settings from the environment: EVALUATION_SMTP_*): HTML and plain text, attachments."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Literal

import aiosmtplib

Security = Literal["starttls", "tls", "none"]


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    media_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int
    security: Security
    username: str | None
    password: str | None  # never logged, never answered
    sender: str
    timeout: float
    ca_file: str | None = None  # the CAs trusted for the server's certificate; None: the system's

    def __repr__(self) -> str:  # the password stays out of logs and tracebacks
        return f"SmtpConfig(host={self.host!r}, port={self.port}, security={self.security!r})"


def build_email(
    sender: str, to: str, content: Mapping[str, Any], attachments: Sequence[Attachment] = ()
) -> EmailMessage:
    """A multipart message: plain text, its HTML alternative, then any attachments."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = str(content["subject"])
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message.set_content(str(content["text"]))
    message.add_alternative(str(content["html"]), subtype="html")
    for item in attachments:
        main, _, sub = item.media_type.partition("/")
        message.add_attachment(item.data, maintype=main, subtype=sub, filename=item.filename)
    return message


async def send_email(config: SmtpConfig, message: EmailMessage) -> str:
    """Send one message; returns the server's answer to the data (e.g. `250 OK`). SMTPException on refusal."""
    _, answer = await aiosmtplib.send(
        message,
        hostname=config.host,
        port=config.port,
        username=config.username,
        password=config.password,
        use_tls=config.security == "tls",
        start_tls=config.security == "starttls",
        validate_certs=True,  # never sent in clear: STARTTLS is required when asked, the certificate verified
        cert_bundle=config.ca_file,
        timeout=config.timeout,
    )
    return answer
