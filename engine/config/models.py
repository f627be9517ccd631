"""The customer file, version 1, as typed models: the contract SAs write against.

These models are the single source of truth for the format: ``schemas/customer.schema.json``
is generated from them (``lmsync schema``), editors autocomplete from that schema, and
``lmsync validate`` checks files against both. Every model forbids unknown keys (a typo must
never silently disable a mapping) and is frozen (a loaded configuration is a value).

This module must never do I/O or resolve a secret: secret fields hold references
(``env:NAME`` / ``file:PATH``), resolved only when a run needs them (see ``secrets.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from engine.config import semantics

SECRET_REF_PATTERN = r"^(env:[A-Za-z_][A-Za-z0-9_]*|file:\S.*)$"
SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
URL_PATTERN = r"^https?://[^\s/]+(:\d+)?(/\S*)?$"
HTTPS_URL_PATTERN = r"^https://\S+$"
GROUP_ID_PATTERN = r"^[A-Za-z0-9_-]+$"
HOST_PATTERN = r"^[A-Za-z0-9.\-\[\]:]+$"
HOST_KEY_PATTERN = r"^(ssh-|ecdsa-)\S+ [A-Za-z0-9+/=]+$"
PERCENT_PATTERN = r"^(100|[0-9]{1,2})(\.[0-9]+)?%$"
PLATFORM_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
EXTENSION_PATTERN = r"^[A-Za-z0-9]{1,10}$"

#: Language codes the LMS accepts for ``lang`` (ISO 639-1, plus regional variants it knows).
LMS_LANGUAGES: frozenset[str] = frozenset(
    {
        "bg",
        "cs",
        "da",
        "de",
        "el",
        "en",
        "es",
        "fi",
        "fr",
        "hr",
        "hu",
        "id",
        "it",
        "ja",
        "ko",
        "lt",
        "lv",
        "nl",
        "no",
        "pl",
        "pt",
        "pt-BR",
        "ro",
        "ru",
        "sk",
        "sl",
        "sr",
        "sv",
        "th",
        "tr",
        "uk",
        "vi",
        "zh",
        "zh-TW",
        "et",
        "ms",
        "he",
        "ar",
        "hi",
        "ca",
    }
)

#: The profile fields a CSV column can be mapped onto.
ProfileField = Literal["first_name", "last_name", "organization", "title", "manager", "language"]

#: Columns every HRIS file must carry; they cannot be mapped, filtered on with another meaning,
#: or used as custom fields.
RESERVED_COLUMNS: frozenset[str] = frozenset(semantics.RESERVED_COLUMNS)

SecretRef = Annotated[
    str,
    StringConstraints(pattern=SECRET_REF_PATTERN),
    Field(
        description="A reference to a secret, never the secret itself: `env:NAME` reads an "
        "environment variable, `file:PATH` reads a file (e.g. a mounted secret).",
        examples=["env:ACME_SFTP_PASSWORD", "file:/run/secrets/acme-pgp-key"],
    ),
]
Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN)]
ClockTime = Annotated[str, StringConstraints(pattern=TIME_PATTERN)]
Email = Annotated[str, StringConstraints(pattern=EMAIL_PATTERN, max_length=254)]
Column = Annotated[str, StringConstraints(min_length=1, max_length=200)]
GroupId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=GROUP_ID_PATTERN)]
CustomFieldTitle = Annotated[str, StringConstraints(min_length=1, max_length=100)]
Url = Annotated[str, StringConstraints(pattern=URL_PATTERN)]
Platform = Annotated[str, StringConstraints(pattern=PLATFORM_PATTERN)]


class Model(BaseModel):
    """Base of every configuration model: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=False)


def _reject(findings: Iterable[semantics.Finding]) -> None:
    """Raise the semantic findings as one ValueError (``lmsync validate`` reports them one by one)."""
    messages = [finding.message for finding in findings]
    if messages:
        raise ValueError("; ".join(messages))


def _check_timezone(value: str) -> str:
    problem = semantics.timezone_problem(value)
    if problem:
        raise ValueError(problem)
    return value


# --- environments --------------------------------------------------------------------------


class LmsEndpoint(Model):
    """Where and as whom a sync talks to the LMS API."""

    url: Url = Field(
        description="Base URL of the LMS instance (no trailing /api).",
        examples=["http://127.0.0.1:8360", "https://app.360learning.com"],
    )
    client_id: SecretRef
    client_secret: SecretRef


class CornerstoneEndpoint(Model):
    """A Cornerstone portal (pilot, stage and production portals are separate)."""

    url: Url = Field(description="Portal base URL.", examples=["https://acme-pilot.csod.com"])
    client_id: SecretRef
    client_secret: SecretRef
    scope: str = Field(
        default="employee:read transcript:read transcript:update",
        description="OAuth2 scopes requested with the client credentials.",
    )


class Environment(Model):
    """One place a sync writes to. CI plans against `test`."""

    lms: LmsEndpoint
    cornerstone: CornerstoneEndpoint | None = Field(
        default=None, description="The matching Cornerstone portal, when the customer has the connector."
    )


# --- HRIS: where files come from ------------------------------------------------------------


class FolderSource(Model):
    """A local folder: the embedded default, for demos and tests."""

    type: Literal["folder"]
    path: str = Field(description="Folder holding the HRIS files; relative to the customer file.")


class SftpSource(Model):
    """An SFTP server, with its host key pinned: an unknown or changed key is refused."""

    type: Literal["sftp"]
    host: Annotated[str, StringConstraints(min_length=1, pattern=HOST_PATTERN)] = Field(
        description="SFTP server host name or IP address.", examples=["sftp.acme.example"]
    )
    port: int = Field(default=22, ge=1, le=65535, description="SFTP server port.")
    username: Annotated[str, StringConstraints(min_length=1)] = Field(description="SFTP login.")
    password: SecretRef | None = Field(
        default=None, description="Password reference (env:NAME); set this or `private_key`."
    )
    private_key: SecretRef | None = Field(default=None, description="An OpenSSH or PEM private key.")
    private_key_passphrase: SecretRef | None = Field(
        default=None, description="Passphrase of `private_key`, when it has one."
    )
    host_key: Annotated[str, StringConstraints(pattern=HOST_KEY_PATTERN)] = Field(
        description="The server's public host key as `type base64`, as in known_hosts.",
        examples=["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample"],
    )
    path: str = Field(default="/", description="Remote folder holding the HRIS files.")
    timeout: float = Field(
        default=30.0, gt=0, le=600, description="Seconds before a network operation fails."
    )

    @model_validator(mode="after")
    def _one_credential(self) -> SftpSource:
        _reject(semantics.sftp_findings(self.model_dump()))
        return self


Source = Annotated[FolderSource | SftpSource, Field(discriminator="type")]


class FileNaming(Model):
    """Which files are processed, and how they are read."""

    prefix: str = Field(default="hris", description="Only files whose name starts with this are processed.")
    extension: Annotated[str, StringConstraints(pattern=EXTENSION_PATTERN)] = Field(
        default="tsv", description="Expected extension, without the dot (`.pgp`/`.gpg` may follow it)."
    )
    delimiter: Literal["auto", ",", "\t", ";", "|"] = Field(
        default="auto", description="`auto` detects comma or tab from the header line."
    )
    encoding: Literal["utf-8"] = "utf-8"
    retention_days: int = Field(
        default=30, ge=1, le=3650, description="Processed files are deleted from the source after this."
    )
    settle_seconds: float = Field(
        default=5.0,
        ge=0,
        le=600,
        description="A file whose size or modification time changed within this window is "
        "still being uploaded and is left for the next run.",
    )


class Encryption(Model):
    """PGP encryption of the HRIS files."""

    required: bool = Field(default=False, description="true: only encrypted files are synchronized.")
    private_key: SecretRef | None = Field(default=None, description="Armored PGP private key.")
    passphrase: SecretRef | None = Field(default=None, description="Passphrase of the PGP private key.")

    @model_validator(mode="after")
    def _key_when_required(self) -> Encryption:
        _reject(semantics.encryption_findings(self.model_dump()))
        return self


# --- HRIS: mapping --------------------------------------------------------------------------


class CustomFieldSpec(Model):
    """A custom field with an explicit type."""

    title: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    type: Literal["string", "date"] = Field(default="string", description="`date` values are YYYY-MM-DD.")


class GroupRule(Model):
    """`when` a row matches (AND across columns, OR across values) → learner of `group`."""

    when: dict[Column, list[str]] = Field(
        min_length=1,
        description="Column → accepted values: all columns must match, any listed value.",
        examples=[{"department": ["Sales"]}],
    )
    group: GroupId = Field(description="Id of the group the matching users join as learners.")


class Groups(Model):
    """Where synced users become learners besides the synchronized group."""

    hierarchy: list[Column] = Field(
        default_factory=list,
        description="Columns as levels: values become nested groups under the synchronized group.",
        examples=[["country", "site"]],
    )
    rules: list[GroupRule] = Field(
        default_factory=list, description="`when` a row matches → learner of `group`."
    )

    @model_validator(mode="after")
    def _distinct_levels_and_values(self) -> Groups:
        _reject(semantics.groups_findings(self.model_dump()))
        return self


class Safety(Model):
    """Guards that stop a run before it writes."""

    max_deletions: int | Annotated[str, StringConstraints(pattern=PERCENT_PATTERN)] = Field(
        default="10%",
        description="Most managed users one run may delete: a count or a share such as `10%`.",
    )

    @field_validator("max_deletions")
    @classmethod
    def _non_negative(cls, value: int | str) -> int | str:
        if isinstance(value, int) and value < 0:
            raise ValueError("max_deletions must be 0 or more")
        return value


class Schedule(Model):
    """When the runner syncs, in the customer's local time (DST-correct)."""

    times: list[ClockTime] = Field(
        default_factory=lambda: ["06:30", "23:30"],
        min_length=1,
        description="Local start times, HH:MM (24-hour).",
        examples=[["06:30", "23:30"]],
    )
    timezone: str = Field(default="Europe/Paris", description="IANA time zone of `times`.")

    @model_validator(mode="after")
    def _known_zone_distinct_times(self) -> Schedule:
        _reject(semantics.schedule_findings(self.model_dump()))
        return self


class Hris(Model):
    """The HRIS user sync: files on a source, mapped onto users, custom fields and groups."""

    source: Source = Field(description="Where HRIS files are picked up: `type: folder` or `type: sftp`.")
    file: FileNaming = Field(default_factory=FileNaming, description="Which files are read, and how.")
    encryption: Encryption = Field(default_factory=Encryption, description="PGP decryption of the files.")
    group: GroupId = Field(description="Id of the synchronized group (platform group or a private group).")
    admin: Email = Field(description="Connector administrator: created users are invited by this user.")
    silent: bool = Field(default=False, description="true: created users get no invitation e-mail.")
    platform: Platform = Field(
        default="lmsync-hris",
        description="Platform name the `uniqueId` is recorded under (LMS external ids).",
    )
    fields: dict[Column, ProfileField] = Field(
        default_factory=dict,
        description="CSV column → profile field.",
        examples=[{"firstName": "first_name"}],
    )
    languages: dict[str, str] = Field(
        default_factory=dict, description="Language names in the file → LMS language codes."
    )
    custom_fields: dict[Column, CustomFieldTitle | CustomFieldSpec] = Field(
        default_factory=dict, description="CSV column → custom field title (or {title, type})."
    )
    filter: dict[Column, list[str]] = Field(
        default_factory=dict, description="Only rows matching every column (any listed value) are synced."
    )
    groups: Groups = Field(default_factory=Groups, description="Group hierarchy and rules.")
    missing_users: Literal["keep", "delete"] = Field(
        default="keep", description="What happens to managed users absent from the file."
    )
    safety: Safety = Field(default_factory=Safety, description="Guards that stop a run before it writes.")
    schedule: Schedule = Field(default_factory=Schedule, description="When the runner syncs.")
    notify: list[Email] = Field(default_factory=list, description="Recipients of the recap after each run.")

    @model_validator(mode="after")
    def _coherent_mapping(self) -> Hris:
        _reject(semantics.hris_findings(self.model_dump(), LMS_LANGUAGES))
        return self

    @property
    def custom_field_titles(self) -> frozenset[str]:
        """The titles of the custom fields this file feeds: what tells the connector's
        definitions from the platform's others."""
        return frozenset(
            spec if isinstance(spec, str) else spec.title for spec in self.custom_fields.values()
        )


# --- Cornerstone ----------------------------------------------------------------------------


class FeedBasicAuth(Model):
    """Cornerstone authenticates to our catalog feed with HTTP Basic."""

    type: Literal["basic"]
    username: str
    password: SecretRef


class FeedOAuthAuth(Model):
    """Cornerstone authenticates to our catalog feed with OAuth2 client credentials."""

    type: Literal["oauth2"]
    client_id: SecretRef
    client_secret: SecretRef


class Catalog(Model):
    """The course-list feed Cornerstone's Online Content connector pulls daily."""

    enabled: bool = True
    launch_url: str = Field(
        description="Launch URL template; `{course_id}` is replaced.",
        examples=["https://acme.360learning.com/course/{course_id}"],
    )
    subjects: dict[str, list[str]] = Field(
        default_factory=dict, description="LMS course tag → Cornerstone subjects."
    )
    default_subjects: list[str] = Field(default_factory=list)
    partners: list[str] = Field(default_factory=list)
    auth: Annotated[FeedBasicAuth | FeedOAuthAuth, Field(discriminator="type")]

    @model_validator(mode="after")
    def _has_placeholder(self) -> Catalog:
        _reject(semantics.catalog_findings(self.model_dump()))
        return self


class Completions(Model):
    """Daily push of the previous day's completions to Cornerstone transcripts."""

    enabled: bool = True
    time: ClockTime = Field(default="02:00", description="Local time of the daily push.")
    timezone: str = "Europe/Paris"
    in_progress: bool = Field(
        default=False, description="Also push in-progress status via learning assignments."
    )
    platform: Platform = Field(
        default="lmsync-hris",
        description="External-id platform whose value is the Cornerstone user's externalId.",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return _check_timezone(value)


ClaimName = Literal["email", "first_name", "last_name"]


def _default_claims() -> dict[ClaimName, str]:
    return {"email": "email", "first_name": "firstName", "last_name": "lastName"}


class JwtSso(Model):
    """JWT login links: HS256 only, algorithm fixed here, never taken from the token."""

    type: Literal["jwt"]
    secret: SecretRef
    algorithm: Literal["HS256"] = "HS256"
    max_age_seconds: int = Field(default=300, ge=10, le=86400)
    claims: dict[ClaimName, str] = Field(
        default_factory=_default_claims,
        description="Our name → claim name in the token.",
    )


class SamlSso(Model):
    """SAML 2.0: the IdP's metadata (URL or inline XML) and its signing certificate."""

    type: Literal["saml"]
    entity_id: str
    metadata_url: Annotated[str, StringConstraints(pattern=HTTPS_URL_PATTERN)] | None = None
    metadata_xml: str | None = None
    certificate: str | None = Field(default=None, description="The IdP signing certificate, PEM.")
    name_id_format: Literal["email"] = "email"
    attributes: dict[Literal["first_name", "last_name"], str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_metadata(self) -> SamlSso:
        _reject(semantics.saml_findings(self.model_dump()))
        return self


class Sso(Model):
    """Single sign-on with auto-provisioning into `group` on first login."""

    method: Annotated[JwtSso | SamlSso, Field(discriminator="type")]
    provision_group: GroupId | None = Field(
        default=None, description="Group new users join on first login; defaults to hris.group."
    )


class Cornerstone(Model):
    """The Cornerstone OnDemand connector."""

    catalog: Catalog | None = None
    completions: Completions | None = None
    sso: Sso | None = None


# --- the file -------------------------------------------------------------------------------


class Review(Model):
    """What pull-request comments and logs may show."""

    show_personal_data: bool = Field(
        default=False, description="true only for synthetic test data: show e-mails and names in clear."
    )


class CustomerConfig(Model):
    """One customer's integrations, version 1."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        title="lmsync customer configuration",
        json_schema_extra={"$id": "https://lmsync.dev/schemas/customer.schema.json"},
    )

    version: Literal[1] = Field(description="Format version; a migration command upgrades old files.")
    customer: Slug = Field(description="Customer slug; equals the file name (customers/<slug>.yaml).")
    environments: dict[Slug, Environment] = Field(
        description="Where a sync writes, by name (a slug); CI plans against `test`.",
        min_length=1,
        # pydantic emits the key pattern as patternProperties only, which lets any other key
        # through a JSON Schema validator; say explicitly that other keys are refused.
        json_schema_extra={"additionalProperties": False},
    )
    hris: Hris | None = Field(default=None, description="The HRIS user sync.")
    cornerstone: Cornerstone | None = Field(default=None, description="The Cornerstone OnDemand connector.")
    review: Review = Field(default_factory=Review, description="What pull-request comments may show.")

    @model_validator(mode="after")
    def _needs_test_environment(self) -> CustomerConfig:
        # The slug/file-name rule needs the file name: the loader checks it, not the model.
        _reject(semantics.customer_findings(self.model_dump(), None))
        return self
