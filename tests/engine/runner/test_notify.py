"""Recap e-mails: composed without personal data, delivered to a real local SMTP server."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from engine.console import SilentReporter
from engine.errors import ConfigError, SecretError
from engine.runner.context import RunContext, RunOutcome
from engine.runner.notify import RecapMailer, SmtpSettings, compose_recap, mask_unique_id
from engine.runner.runner import Runner
from engine.state import RunRecord, StateStore
from tests.engine.runner.helpers import ManualClock, utc, write_customer
from tests.fixtures.smtp import SmtpServer, _free_port

RUN = RunRecord(
    id="20250115T053000Z-abc123",
    customer="acme",
    environment="production",
    kind="hris",
    status="succeeded",
    started_at=utc(2025, 1, 15, 5, 30),
    finished_at=utc(2025, 1, 15, 5, 30, 42),
    file_name="hris_20250115.tsv",
    file_sha256="ab" * 32,
    counts={"created": 3, "updated": 1, "ignored": 1, "duplicated": 2},
)
REPORT = [
    {
        "line": 2,
        "unique_id": "E001",
        "email": "jane.doe@acme.example",
        "name": "Jane Doe",
        "outcome": "created",
    },
    {
        "line": 5,
        "unique_id": "E007",
        "email": "bad@",
        "name": "John Roe",
        "outcome": "ignored",
        "reason": "invalid_email",
    },
    {
        "line": 8,
        "unique_id": "E009",
        "email": "x@acme.example",
        "outcome": "duplicated",
        "reason": "uniqueId twice",
    },
]


def test_recap_has_counts_and_problems_without_personal_data() -> None:
    recap = compose_recap(RUN, REPORT, problems=["manager of jane.doe@acme.example not found"])
    assert (
        recap.subject == "[lmsync] acme production: succeeded — 3 created, 1 updated, 2 duplicated, 1 ignored"
    )
    body = recap.body
    assert "took 42 s" in body and "hris_20250115.tsv" in body
    assert "line 5  ignored  invalid_email  user " + mask_unique_id("acme", "E007") in body
    assert "line 8  duplicated" in body
    assert "Problems (3)" in body and "line 2" not in body, "created rows are not problems"
    for personal in ("jane.doe", "Jane", "John", "E001", "E007", "E009", "x@acme.example"):
        assert personal not in body
    assert mask_unique_id("acme", "E007") != mask_unique_id("globex", "E007")


def test_recap_of_quarantine_says_how_to_resume() -> None:
    failed = RunRecord(**{**RUN.__dict__, "status": "failed", "error": "hris.tsv:1: missing column 'email'"})
    body = compose_recap(failed, [], quarantined_reason="5 consecutive failed runs").body
    assert "QUARANTINED" in body and "lmsync runner resume acme" in body
    assert "Error: hris.tsv:1: missing column 'email'" in body


@pytest.mark.parametrize(
    ("environ", "error", "message"),
    [
        ({"LMSYNC_SMTP_URL": "http://mail:25"}, ConfigError, "not an SMTP URL"),
        ({"LMSYNC_SMTP_URL": "smtp://u:hunter2@mail:25"}, ConfigError, "must not carry credentials"),
        (
            {"LMSYNC_SMTP_URL": "smtp://mail", "LMSYNC_SMTP_PASSWORD": "env:NOPE"},
            SecretError,
            "NOPE is not set",
        ),
    ],
)
def test_bad_smtp_settings(environ: dict[str, str], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message) as info:
        SmtpSettings.from_environ(environ)
    assert "hunter2" not in str(info.value)


def test_smtp_settings_from_environment() -> None:
    assert SmtpSettings.from_environ({}) is None
    settings = SmtpSettings.from_environ(
        {
            "LMSYNC_SMTP_URL": "smtp+starttls://mail.example:2525",
            "LMSYNC_SMTP_USER": "env:MAIL_USER",
            "LMSYNC_SMTP_PASSWORD": "env:MAIL_PASS",
            "MAIL_USER": "lmsync",
            "MAIL_PASS": "s3cret",
        }
    )
    assert settings is not None
    assert (settings.host, settings.port, settings.security) == ("mail.example", 2525, "starttls")
    assert settings.password is not None and "s3cret" not in repr(settings)


def test_runner_mails_a_recap_after_a_run(tmp_path: Path, smtp_server: SmtpServer) -> None:
    configs = tmp_path / "customers"
    write_customer(configs, "acme", notify="sa@acme.example, ops@acme.example")
    store = StateStore.open(f"sqlite:///{tmp_path / 'state.sqlite'}")
    settings = SmtpSettings.from_environ(
        {"LMSYNC_SMTP_URL": smtp_server.url, "LMSYNC_SMTP_FROM": "lmsync@ops.example"}
    )
    assert settings is not None

    def job(config: object, env: str, ctx: RunContext) -> RunOutcome:
        return RunOutcome(status="succeeded", counts={"created": 1, "ignored": 1}, report=REPORT[:2])

    clock = ManualClock(utc(2025, 1, 15, 5, 0))
    runner = Runner(configs, store, job, clock, mailer=RecapMailer(settings, timeout=10))
    runner.run_once()
    clock.advance(timedelta(minutes=30))
    assert runner.run_once() == ["acme"]
    runner.close()
    assert smtp_server.inbox.recipients == [["sa@acme.example", "ops@acme.example"]]
    message = smtp_server.inbox.messages[0]
    assert message["From"] == "lmsync@ops.example"
    assert message["Subject"].startswith("[lmsync] acme production: succeeded")
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)  # a single-part message decodes to bytes
    body = payload.decode()
    assert "invalid_email" in body and "jane.doe" not in body and "E007" not in body
    run = store.list_runs("acme")[0]
    assert store.report(run.id) == REPORT[:2], "the full log stays in the store"
    store.close()


def test_unreachable_smtp_does_not_fail_the_run(tmp_path: Path) -> None:
    configs = tmp_path / "customers"
    write_customer(configs, "acme", notify="sa@acme.example")
    store = StateStore.open(f"sqlite:///{tmp_path / 'state.sqlite'}")
    settings = SmtpSettings.from_environ({"LMSYNC_SMTP_URL": f"smtp://127.0.0.1:{_free_port()}"})
    assert settings is not None
    warnings: list[str] = []

    class Recorder(SilentReporter):
        def warn(self, message: str) -> None:
            warnings.append(message)

    clock = ManualClock(utc(2025, 1, 15, 5, 0))
    runner = Runner(
        configs,
        store,
        lambda c, e, x: RunOutcome(status="succeeded"),
        clock,
        mailer=RecapMailer(settings, timeout=5),
        reporter=Recorder(),
    )
    runner.run_once()
    clock.advance(timedelta(minutes=30))
    runner.run_once()
    runner.close()
    assert store.list_runs("acme")[0].status == "succeeded"
    assert any("recap e-mail via 127.0.0.1" in w for w in warnings)
    store.close()
