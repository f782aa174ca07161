"""Sending email over SMTP (host, port, TLS and credentials from settings).

The password is never logged: the settings object hides it from repr.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Mapping

from payrecon.errors import SettingsError

SECURITY = ("none", "starttls", "ssl")


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    security: str = "starttls"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    sender: str = "billing@localhost"
    timeout: float = 30.0  # float-ok: seconds, not money

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "SmtpSettings | None":
        """None when PAYRECON_SMTP_HOST is unset: notifications are then recorded as not sent."""
        host = env.get("PAYRECON_SMTP_HOST")
        if not host:
            return None
        security = env.get("PAYRECON_SMTP_SECURITY", "starttls")
        if security not in SECURITY:
            raise SettingsError(f"PAYRECON_SMTP_SECURITY must be one of {', '.join(SECURITY)}, got {security!r}")
        default_port = {"none": "25", "starttls": "587", "ssl": "465"}[security]
        port = env.get("PAYRECON_SMTP_PORT", default_port)
        if not (port.isascii() and port.isdigit()) or not 0 < int(port) < 65536:
            raise SettingsError(f"PAYRECON_SMTP_PORT must be a port number, got {port!r}")
        return cls(
            host=host,
            port=int(port),
            security=security,
            username=env.get("PAYRECON_SMTP_USERNAME") or None,
            password=env.get("PAYRECON_SMTP_PASSWORD") or None,
            sender=env.get("PAYRECON_SMTP_FROM", "billing@localhost"),
        )


class Mailer:
    def __init__(self, settings: SmtpSettings):
        self.settings = settings

    def send(self, message: EmailMessage) -> None:
        s = self.settings
        if "From" not in message:
            message["From"] = s.sender
        if s.security == "ssl":
            client = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        with client:
            if s.security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if s.username:
                client.login(s.username, s.password or "")
            client.send_message(message)
