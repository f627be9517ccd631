"""The recap e-mail sent after each run to the customer's ``notify`` recipients.

It carries the counts and the problems (ignored, duplicated, failed rows... with their line
and reason), never an employee's e-mail or name: a user appears as a short hash of their
``uniqueId``, and any e-mail address in an error text is masked. SMTP settings come from the
environment, by reference (see ``SmtpSettings.from_environ``). Composing is pure; only
``RecapMailer.send`` does I/O. A failure to send is reported, never raised into the run.
"""

from __future__ import annotations

import hashlib
import re
import smtplib
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import urlsplit

from pydantic import SecretStr

from engine.config.secrets import resolve_secret
from engine.errors import ConfigError, LmsyncError
from engine.state import RunRecord
from engine.state.records import COUNT_NAMES

#: Report outcomes that are not problems; every other outcome is listed in the recap.
FINE_OUTCOMES = frozenset({"created", "updated", "restored", "deleted", "unchanged", "adopted"})
MAX_PROBLEM_LINES = 50
_EMAIL = re.compile(r"[^@\s<>\"'(),;:]+@[^@\s<>\"'(),;:]+\.[A-Za-z]{2,}")


def mask_unique_id(customer: str, unique_id: str) -> str:
    """A stable, non-reversible short name for an employee, per customer."""
    return "u-" + hashlib.sha256(f"{customer}\x00{unique_id}".encode()).hexdigest()[:10]


#: The format our own messages ask for: not anybody's address, and hiding it would confuse.
_PLACEHOLDER = "name@domain.tld"


def mask_emails(text: str) -> str:
    return _EMAIL.sub(lambda m: m[0] if m[0] == _PLACEHOLDER else "[e-mail hidden]", text)


@dataclass(frozen=True)
class SmtpSettings:
    """Where recaps are sent from. Credentials are held as secrets, never printed."""

    host: str
    port: int
    security: str  # "plain", "starttls" or "tls"
    sender: str
    username: SecretStr | None = None
    password: SecretStr | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> SmtpSettings | None:
        """Read ``LMSYNC_SMTP_URL`` (``smtp://``, ``smtp+starttls://`` or ``smtps://host:port``),
        ``LMSYNC_SMTP_FROM``, and the references ``LMSYNC_SMTP_USER`` / ``LMSYNC_SMTP_PASSWORD``
        (``env:NAME`` or ``file:PATH``). None when no URL is set: recaps are then not sent."""
        url = environ.get("LMSYNC_SMTP_URL")
        if not url:
            return None
        parts = urlsplit(url)
        security = {"smtp": "plain", "smtp+starttls": "starttls", "smtps": "tls"}.get(parts.scheme)
        if security is None or not parts.hostname:
            raise ConfigError(
                "LMSYNC_SMTP_URL is not an SMTP URL",
                hint="write it as smtp://host:port, smtp+starttls://host:port or smtps://host:port",
            )
        if parts.username or parts.password:
            raise ConfigError(
                "LMSYNC_SMTP_URL must not carry credentials",
                hint="set LMSYNC_SMTP_USER and LMSYNC_SMTP_PASSWORD to env:NAME or file:PATH references",
            )
        user_ref, password_ref = environ.get("LMSYNC_SMTP_USER"), environ.get("LMSYNC_SMTP_PASSWORD")
        return cls(
            host=parts.hostname,
            port=parts.port or {"plain": 25, "starttls": 587, "tls": 465}[security],
            security=security,
            sender=environ.get("LMSYNC_SMTP_FROM", "lmsync@localhost"),
            username=resolve_secret(user_ref, environ=environ, what="LMSYNC_SMTP_USER") if user_ref else None,
            password=resolve_secret(password_ref, environ=environ, what="LMSYNC_SMTP_PASSWORD")
            if password_ref
            else None,
        )


@dataclass(frozen=True)
class Recap:
    """What one run did, ready to be mailed."""

    subject: str
    body: str


def compose_recap(
    run: RunRecord,
    report: Sequence[Mapping[str, object]],
    *,
    problems: Sequence[str] = (),
    quarantined_reason: str | None = None,
) -> Recap:
    """The recap of ``run``: counts, problems with line and reason, masked users."""
    counts = {name: int(run.counts.get(name, 0)) for name in COUNT_NAMES}
    extra = {k: int(v) for k, v in run.counts.items() if k not in counts}
    summary = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in counts.items() if v) or "no change"
    subject = f"[lmsync] {run.customer} {run.environment}: {run.status} — {summary}"
    lines = [
        f"Customer: {run.customer} ({run.environment})",
        f"Run: {run.id} ({run.kind}), status {run.status}",
        f"Started: {run.started_at:%Y-%m-%d %H:%M:%S} UTC"
        + (f", took {run.duration.total_seconds():.0f} s" if run.duration is not None else ""),
    ]
    if run.file_name:
        lines.append(
            f"File: {run.file_name}" + (f" (sha256 {run.file_sha256[:12]}…)" if run.file_sha256 else "")
        )
    lines += ["", "Counts:"]
    lines += [f"  {name.replace('_', ' '):<14}{value:>7}" for name, value in {**counts, **extra}.items()]
    if run.error:
        lines += ["", f"Error: {mask_emails(run.error)}"]
    if quarantined_reason:
        lines += [
            "",
            f"This customer is now QUARANTINED ({mask_emails(quarantined_reason)}): scheduled runs are "
            "paused. Fix the cause, then run `lmsync runner resume " + run.customer + "`.",
        ]
    problem_lines = [mask_emails(text) for text in problems]
    for row in report:
        outcome = str(row.get("outcome", ""))
        if outcome and outcome not in FINE_OUTCOMES:
            problem_lines.append(_problem_line(run.customer, row))
    if problem_lines:
        lines += ["", f"Problems ({len(problem_lines)}):"]
        lines += [f"  {text}" for text in problem_lines[:MAX_PROBLEM_LINES]]
        if len(problem_lines) > MAX_PROBLEM_LINES:
            lines.append(f"  … and {len(problem_lines) - MAX_PROBLEM_LINES} more")
    lines += [
        "",
        "Users are shown by a hash of their uniqueId; no e-mail or name is sent by e-mail.",
        f"Full per-user log: lmsync runs show {run.id} --format csv",
    ]
    return Recap(subject=subject, body="\n".join(lines) + "\n")


def _problem_line(customer: str, row: Mapping[str, object]) -> str:
    parts = []
    if row.get("line") is not None:
        parts.append(f"line {row['line']}")
    parts.append(str(row.get("outcome")))
    if row.get("reason"):
        parts.append(mask_emails(str(row["reason"])))
    if row.get("unique_id"):
        parts.append(f"user {mask_unique_id(customer, str(row['unique_id']))}")
    return "  ".join(parts)


class RecapMailer:
    """Sends recaps over SMTP with the given settings."""

    def __init__(self, settings: SmtpSettings, *, timeout: float = 30.0) -> None:
        self._settings = settings
        self._timeout = timeout

    def send(self, recipients: Sequence[str], recap: Recap) -> None:
        """Send ``recap``; raises ``NotificationError`` (never with credentials in it)."""
        if not recipients:
            return
        settings = self._settings
        message = EmailMessage()
        message["From"] = settings.sender
        message["To"] = ", ".join(recipients)
        message["Subject"] = recap.subject
        message.set_content(recap.body)
        try:
            smtp: smtplib.SMTP
            if settings.security == "tls":
                smtp = smtplib.SMTP_SSL(
                    settings.host, settings.port, timeout=self._timeout, context=ssl.create_default_context()
                )
            else:
                smtp = smtplib.SMTP(settings.host, settings.port, timeout=self._timeout)
            with smtp:
                if settings.security == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
                if settings.username is not None and settings.password is not None:
                    smtp.login(settings.username.get_secret_value(), settings.password.get_secret_value())
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise NotificationError(
                f"recap e-mail via {settings.host}:{settings.port} failed: {type(exc).__name__}",
                hint="check LMSYNC_SMTP_URL and the SMTP credentials",
            ) from exc


class NotificationError(LmsyncError):
    """The recap could not be sent; the run itself is not affected."""
