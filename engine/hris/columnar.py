"""Recognizes, in native columns, the rows of a big file that ask for what the LMS holds.

On a daily export 95% or more of the rows change nothing. The reference path (``reader.py``
→ ``desired.py`` → ``planner.py``) still turns each of them into Python strings and
compares them in Python, a few microseconds a row: seconds at a million rows. Here polars
cuts the file into columns with its native reader and compares whole columns with the
snapshot's; the rows proven unchanged are counted and left out, and every other row (a
change, a leaver, a duplicate, a bad cell, anything unusual) goes through the reference
path, which stays the single definition of every rule. So this module only ever proves
"this row asks for exactly what the LMS holds, and no other row's outcome depends on it";
on any doubt it keeps the row, and on any doubt about the file it hands the whole file
back, so the reference reader gives its verdict and its message.

A row is settled here when: it is one physical line of the header's width whose quotes csv
reads alike; its trimmed ``uniqueId`` is on no other row and linked to an active LMS user;
it passes every row rule as Active (status, filter, e-mail, language, dates, group names);
its e-mail is the user's, on no other row and held by no other LMS user; each profile and
custom value equals the LMS one; the user is learner of the synchronized group and of
exactly the scope groups the row wants (all existing), of no former group; and its manager
cell keeps the manager the user has, naming a row this plan can neither delete nor skip.
Cells with few distinct values (status, language, dates, group and filter values, odd
e-mails) are decided by the reference functions themselves, once per distinct value.

This module must never emit an action or a problem, nor read a clock or do I/O.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, replace
from functools import partial, reduce
from itertools import chain
from operator import and_, attrgetter
from typing import TYPE_CHECKING, Any, TypeVar

from engine.config.models import Hris
from engine.errors import FileLevelError, PlanError
from engine.hris import rows as rules
from engine.hris.desired import DesiredState, Rules, build_desired, require_columns
from engine.hris.gcpause import without_collector
from engine.hris.groups import GroupTree
from engine.hris.held import (
    SPACES,
    FrameUsers,
    all_distinct,
    frame_users,
    linked_count,
    narrowed,
    shared_mails,
)
from engine.hris.reader import HrisFile, detect_delimiter, parse_header, read_rows
from engine.hris.rows import LanguageTable
from engine.hris.snapshot import PROFILE_ATTRIBUTES, Snapshot, definitions_by_name, fed_definition_ids
from engine.hris.table import RowTable

if TYPE_CHECKING:
    import polars as pl

ColumnT = TypeVar("ColumnT", "pl.Series", "pl.Expr")

#: From this size on, ``plan_input`` takes this path; None: only when asked. Below it polars'
#: start-up outweighs what the path saves. The target adapter decodes a big users listing
#: into the columns compared here (``connectors.lms.pages.read_users``), so a run pays
#: nothing to build them; ``benchmarks/plan.py`` measures both paths.
MIN_BYTES: int | None = 1 << 20

#: A column with more distinct values than this is handed back rather than decided here.
_MAX_DISTINCT = 200_000

_BOM = b"\xef\xbb\xbf"
#: Addresses ``rows.normalize_email`` returns unchanged (a strict subset of the valid ones).
_PLAIN_EMAIL = r"^[a-z0-9!#$%&'*+/=?^_`{|}~.\-]{1,64}@[a-z0-9.\-]{1,180}\.[a-z0-9\-]{1,8}$"
#: Anything ``bytes.isspace`` is not: a file whose rows hold none has no row.
_NOT_SPACE = re.compile(rb"[^ \t\n\r\x0b\x0c]")
_SEP = "\x1f"
#: Row numbers times this, plus a group number: one integer per (user, group) pair.
_SHIFT = 1 << 32
_SPACES = SPACES
_EDGE_SPACE = "^[{0}]|[{0}]$".format("".join(f"\\x{{{ord(c):x}}}" for c in _SPACES))


@without_collector
def plan_input(
    data: bytes,
    *,
    file_name: str,
    config: Hris,
    snapshot_of: Callable[[Collection[str]], Snapshot],
    columnar: bool | None = None,
) -> tuple[DesiredState, Snapshot]:
    """The desired state of ``data`` and the snapshot to plan it against.

    ``snapshot_of(emails)`` reads the target (``emails``: the addresses of the rows kept as
    Active users, for adoption; worked out when first used). ``columnar``: None takes this
    module's path from ``MIN_BYTES`` on unless most rows are not linked users of the LMS,
    True for any size (tests compare both paths), False never. The desired state returned
    plans, with ``plan_sync``, byte for byte as the reference's.
    """

    def reference() -> DesiredState:
        return build_desired(read_rows(data, file_name=file_name, naming=config.file), config)

    wanted = columnar if columnar is not None else MIN_BYTES is not None and len(data) >= MIN_BYTES
    cut = _cut(data, file_name, config) if wanted else None
    facts = _FileFacts.of(cut, config) if cut is not None else None
    if facts is None:
        desired = reference()
        users = desired.users
        return desired, snapshot_of(_Later(lambda: frozenset(u.email for u in users.values() if u.active)))
    snapshot = snapshot_of(_Later(facts.active_emails))
    if columnar is None and linked_count(snapshot) * 2 < facts.frame.height:
        # Most rows are not in the LMS yet (a first load): few can be settled, and handing
        # the others back costs more than reading them the reference way.
        return reference(), snapshot
    settled = facts.desired(snapshot)
    return (reference(), snapshot) if settled is None else settled


# --- the snapshot in columns ----------------------------------------------------------


class SnapshotColumns:
    """The linked users of a snapshot as columns: what the comparison reads.

    ``users``: one row per linked user: uid (our external id), id, status, mail, the
    profile attributes ("" for none), managers (each id after a U+001F) and its ``row``
    number; ``custom``: (row, field_id, value) per custom value; ``roles``: (row, group
    number) per learner role, groups numbered by ``group_number``.
    """

    def __init__(self, snapshot: Snapshot) -> None:
        """From the snapshot's users: the columns they are held in (``held.FrameUsers``, far
        cheaper), else the objects."""
        import polars as pl  # noqa: PLC0415 - loaded only when this path runs

        held = frame_users(snapshot)
        if held is None or not self._from_frame(snapshot, held):
            self._from_users(snapshot)
        self.group_number = {group: n for n, group in enumerate(snapshot.learners)}
        # Members matched to user rows by a join: no Python object per role.
        learners = snapshot.learners
        members = pl.DataFrame(
            [
                pl.Series("id", list(chain.from_iterable(learners.values())), dtype=pl.String),
                pl.Series("group", range(len(learners)), dtype=pl.UInt32)
                .repeat_by(pl.Series(list(map(len, learners.values())), dtype=pl.UInt32))
                .explode(),
            ]
        )
        rows = self.users.select("id", pl.col("row").cast(pl.UInt32))
        self.roles = members.join(rows, on="id").select("row", "group")

    def _from_users(self, snapshot: Snapshot) -> None:
        import polars as pl  # noqa: PLC0415

        linked = snapshot.by_unique_id
        users = list(linked.values())
        # Column by column, so that one list of a million references lives at a time.
        series = [pl.Series("uid", list(linked), dtype=pl.String)]
        for name in ("id", "status", *PROFILE_ATTRIBUTES.values()):
            column = pl.Series(name, list(map(attrgetter(name), users)), dtype=pl.String)
            series.append(column.fill_null("") if name in PROFILE_ATTRIBUTES.values() else column)
        # Each id after a separator: no manager is "", one manager with an empty id is not.
        # The adapter shares equal tuples (a team's manager): each is joined once.
        joined: dict[tuple[str, ...], str] = {(): ""}
        managers = [
            joined.get(held) or joined.setdefault(held, _SEP + _SEP.join(held))
            for held in map(attrgetter("managers"), users)
        ]
        series.append(pl.Series("managers", managers, dtype=pl.String))
        del managers, joined
        self.users = pl.DataFrame(series).with_row_index("row")
        values = list(map(attrgetter("custom_fields"), users))
        counts = pl.Series("n", list(map(len, values)), dtype=pl.UInt32)
        flat = list(chain.from_iterable(values))
        del values
        self.custom = pl.DataFrame(
            [
                self.users["row"].repeat_by(counts).explode().alias("row"),
                pl.Series("field_id", list(map(attrgetter("field_id"), flat)), dtype=pl.String),
                pl.Series("value", list(map(attrgetter("value"), flat)), dtype=pl.String),
            ]
        )
        del flat

    def _from_frame(self, snapshot: Snapshot, held: FrameUsers) -> bool:
        """The same columns as ``_from_users``, gathered from the decoded users one column at
        a time, lists never gathered (joining the whole frame copied every string of it:
        700 MiB more at the peak at 1M users); False when an id is on two users (the
        snapshot's index keeps the last one: the objects decide then)."""
        import polars as pl  # noqa: PLC0415

        frame = held.frame
        if frame["id"].is_duplicated().any():
            return False
        keys = held.links(snapshot.external_ids)  # where each linked user is in the frame
        where = keys["at"]
        series = [keys["uid"], keys["id"], frame["status"].gather(where)]
        series += [frame[name].gather(where).fill_null("") for name in PROFILE_ATTRIBUTES.values()]
        # Lists are never gathered (that copies every string in them): the managers are
        # joined in the frame's order, the custom values exploded in it, then placed.
        managers = pl.col("managers")
        joined = frame.select(
            pl.when(managers.list.len() > 0)
            .then(pl.lit(_SEP) + managers.list.join(_SEP))
            .otherwise(pl.lit(""))
        ).to_series()
        series.append(joined.gather(where).alias("managers"))
        del joined
        self.users = pl.DataFrame(series).with_row_index("row")
        del series
        row_at = pl.repeat(None, frame.height, dtype=pl.UInt32, eager=True)
        row_at.scatter(where, self.users["row"])
        custom = pl.col("custom")
        self.custom = (
            frame.select(row_at.alias("row"), custom)
            .filter(pl.col("row").is_not_null() & (custom.list.len() > 0))
            .explode("custom")
            .select("row", custom.struct.field("field_id"), custom.struct.field("value"))
            .sort("row", maintain_order=True)  # in user order, each user's values in theirs
        )
        return True

    def value(self, field_id: str) -> pl.Series:
        """Each user's value of ``field_id`` (null when it has none), in user row order; a
        field held twice keeps its last value, as the planner's dict does."""
        import polars as pl  # noqa: PLC0415

        held = self.custom.filter(pl.col("field_id") == field_id)
        if held["row"].n_unique() != held.height:  # a user holds the field twice: last wins
            held = held.unique("row", keep="last", maintain_order=True)
        column = pl.repeat(None, self.users.height, dtype=pl.String, eager=True).alias(field_id)
        if held.height:
            column.scatter(held["row"], held["value"])
        return column

    def holders(self, group: str) -> pl.Series:
        """Per user row, whether it is learner of ``group``."""
        import polars as pl  # noqa: PLC0415

        column = pl.repeat(False, self.users.height, dtype=pl.Boolean, eager=True)
        number = self.group_number.get(group)
        if number is not None:
            rows = self.roles.filter(pl.col("group") == number)["row"]
            if rows.len():
                column.scatter(rows, True)
        return column


def snapshot_columns(snapshot: Snapshot) -> SnapshotColumns:
    """Built once per snapshot, like its other indexes, and kept on it."""
    built = snapshot.columnar
    if not isinstance(built, SnapshotColumns):
        built = SnapshotColumns(snapshot)
        object.__setattr__(snapshot, "columnar", built)
    return built


# --- the file in columns --------------------------------------------------------------


@dataclass(frozen=True)
class _Cut:
    """The file's rows in columns ``c0``... (header order) exactly as csv reads them.

    ``plain``: rows that are one line of the header's width read alike by a split and by
    csv; ``odd``: every other row as csv reads it alone ([] for a blank line), whose cells
    are also written into the columns (padded with "") so that no row hides a key.
    """

    file_name: str
    header: tuple[str, ...]
    delimiter: str
    cells: pl.DataFrame
    plain: pl.Series
    odd: dict[int, list[str]]


def _cut(data: bytes, file_name: str, config: Hris) -> _Cut | None:
    """The file in columns, or None when polars' reading might differ from csv's in any way
    (the reference reader then reads it, and explains whatever is wrong with it)."""
    try:
        import polars as pl  # noqa: PLC0415
    except ImportError:  # a dependency, but an install without it still plans, the reference way
        return None
    body = data[len(_BOM) :] if data.startswith(_BOM) else data
    end = body.find(b"\n")
    # A CR only ends a line before LF (the scan for one is cheap; counting is done only then).
    lone_cr = b"\r" in body and body.count(b"\r") != body.count(b"\r\n")
    if end <= 0 or b"\x00" in body or lone_cr:
        return None
    try:
        head = body[:end].removesuffix(b"\r").decode("utf-8")
        if not head.strip():
            return None
        delimiter = detect_delimiter(head, config.file, file_name)
        if len(delimiter.encode()) != 1 or delimiter in '"\r\n':
            return None
        _, header = parse_header(csv.reader([head], delimiter=delimiter, strict=True), file_name, delimiter)
        require_columns(HrisFile(file_name, header, (), (), delimiter, header_line=1), config)
    except (UnicodeDecodeError, FileLevelError, csv.Error):
        return None
    # polars reads the header line too: it never sees a data row first (it would drop a BOM
    # opening it, take its first bytes for a compressed stream's magic, or take its width
    # for the file's), and the bytes are handed over without a copy of the rows.
    if _NOT_SPACE.search(body, end) is None:
        return None
    expected = body.count(b"\n") + (0 if body.endswith(b"\n") else 1)
    width = len(header)
    names = [f"c{j}" for j in range(width)]
    try:
        lines = pl.read_csv(
            body,
            has_header=False,
            separator="\x00",
            quote_char=None,
            schema={"line": pl.String},
            empty_string_is_null=False,
        )
    except (pl.exceptions.PolarsError, pl.exceptions.PanicException, OSError):
        # Undecodable bytes among others (or a reader panic): the reference reader says where.
        return None
    # Through the frame, not the series: polars runs a frame's expressions on every core
    # (the read leaves the lines in chunks), a series' methods on one.
    line = pl.col("line")
    raw = lines["line"]
    longest = lines.select(line.str.len_chars().max()).item()
    if (
        raw.len() != expected
        or raw[0] != head
        or (isinstance(longest, int) and longest >= csv.field_size_limit())
    ):
        return None
    is_plain = (line.str.count_matches(delimiter, literal=True) == width - 1) & (line != "")
    quoted = body.find(b'"', end) >= 0
    if quoted:
        # Lines whose every field is bare (no quote) or quoted whole (no delimiter inside,
        # quotes doubled) are read alike by any RFC 4180 reader; others go to csv alone.
        d = "".join(f"\\x{{{ord(c):x}}}" for c in delimiter)
        field = f'(?:"(?:[^"{d}\\r\\n]|"")*"|[^"{d}\\r\\n]*)'
        is_plain = is_plain & line.str.contains(f"^{field}(?:{d}{field})*$")
    plain = lines.select(is_plain).to_series()
    del lines
    if not plain[0]:
        return None  # a header polars might read otherwise: the rows go to csv
    raw, plain = raw.slice(1), plain.slice(1)
    if plain.len() and (plain.len() - plain.sum()) * 2 > plain.len():
        return None  # most lines need csv one by one (none of them settles): csv reads it all
    odd: dict[int, list[str]] = {}
    odd_quotes = False
    spans: _Spans | None = None
    after = 0  # rows before this one belong to a record read already
    for row, line in zip(plain.not_().arg_true().to_list(), raw.filter(~plain).to_list(), strict=True):
        if row < after:
            continue
        try:
            parsed = list(csv.reader([line], delimiter=delimiter, strict=True))
        except csv.Error:
            # A quoted field over several lines (else csv refuses the file, and says why).
            spans = spans or _Spans(body)
            record = spans.record(row + 1, delimiter)
            if record is None:
                return None
            parsed, count = [record[0]], record[1]
            odd.update({later: [] for later in range(row + 1, row + count)})  # read as blank lines
            after = row + count
        if len(parsed) != 1:  # pragma: no cover - one line without a break is one record
            return None
        odd[row] = parsed[0]
        odd_quotes = odd_quotes or '"' in line
    del raw
    if after:
        # A record's later lines are none of the file's rows, even one that looks plain.
        spread = [row for row, cells in odd.items() if not cells]
        plain = plain.scatter(pl.Series(spread, dtype=pl.UInt32), False)
    try:
        # Every line is a whole record now: polars' quoting reads plain lines as csv does
        # (with a quote on an odd line, quotes are left to csv: the split cannot be fooled).
        cells = pl.read_csv(
            body,
            has_header=False,
            separator=delimiter,
            quote_char='"' if quoted and not odd_quotes else None,
            schema=dict.fromkeys(names, pl.String),
            missing_columns="insert",
            truncate_ragged_lines=True,
            empty_string_is_null=False,
        )
    except (pl.exceptions.PolarsError, pl.exceptions.PanicException, OSError):
        return None
    if cells.height != expected or cells.null_count().sum_horizontal().item():
        return None
    cells = cells.slice(1)
    if quoted and odd_quotes:
        cells = cells.with_columns(
            pl.when(pl.col(name).str.starts_with('"'))
            .then(
                pl.col(name)
                .str.strip_prefix('"')
                .str.strip_suffix('"')
                .str.replace_all('""', '"', literal=True)
            )
            .otherwise(pl.col(name))
            .alias(name)
            for name in names
        )
    if odd:
        at = pl.Series(list(odd), dtype=pl.UInt32)
        patched = []
        for j, name in enumerate(names):
            column = cells[name].clone()
            column.scatter(at, [cells_[j] if j < len(cells_) else "" for cells_ in odd.values()])
            patched.append(column)
        cells = cells.with_columns(patched)
    return _Cut(file_name, header, delimiter, cells, plain.alias("plain"), odd)


class _Spans:
    """The csv records that span several lines of ``body``, read by csv itself from their
    bytes (a line's own break, LF or CRLF, stays in the field as csv keeps it). Lines are
    found by walking the breaks once, forward: only files with such a record pay it."""

    #: A record over more lines than this is left to the reference reader (the whole file).
    MAX_LINES = 1_000

    def __init__(self, body: bytes) -> None:
        self.body = body
        self._line = 0  # the line (0: the header's) that ``_at`` is the first byte of
        self._at = 0

    def offset(self, line: int) -> int:
        """Where ``line`` starts (the end of the body past its last line); lines are asked
        for in order, as the rows are read."""
        assert line >= self._line, "lines are walked forward only"
        while self._line < line:
            found = self.body.find(b"\n", self._at)
            self._at = len(self.body) if found < 0 else found + 1
            self._line += 1
        return self._at

    def record(self, line: int, delimiter: str) -> tuple[list[str], int] | None:
        """The record opening ``line`` and the number of lines it spans, as csv reads it
        there; None when csv reads no single record ending within ``MAX_LINES`` lines."""
        start = self.offset(line)
        for count in range(2, self.MAX_LINES + 1):
            end = self.offset(line + count)
            text = self.body[start:end].decode("utf-8")
            try:
                records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True))
            except csv.Error:
                if end < len(self.body):
                    continue  # the field goes on over the next line
                return None
            return (records[0], count) if len(records) == 1 else None
        return None


def _positions(keys: pl.Series, table: pl.Series) -> pl.Series:
    """Per key, the position in ``table`` (its values distinct) of the value equal to it,
    null when there is none. Joined on u64 hashes, cheaper to match than texts: when the
    table's hashes are distinct, a key whose hash finds a different text is in no place of
    the table (its own text would have that same, distinct hash), so checking the text
    found is enough. Two table values of one hash: joined on the texts."""
    import polars as pl  # noqa: PLC0415

    def join(left: pl.Series, right: pl.Series) -> pl.Series:
        at = pl.int_range(right.len(), dtype=pl.UInt32, eager=True).alias("at")
        found = pl.DataFrame([left.alias("key")]).join(
            pl.DataFrame([right.alias("key"), at]), on="key", how="left", maintain_order="left"
        )
        return found["at"]

    hashes = table.hash()
    if hashes.n_unique() != table.len():
        return join(keys, table)
    found = join(keys.hash(), hashes)
    same = (table.gather(found) == keys).fill_null(False)
    return pl.select(pl.when(same).then(found)).to_series().alias("at")


def _language(languages: LanguageTable, cell: str) -> str | None:
    """The LMS code of a trimmed language cell ("" stays empty), None when unknown."""
    return languages.code(cell) if cell else ""


def _trimmed(cells: pl.DataFrame, indexes: Collection[int]) -> dict[int, pl.Series]:
    """``str.strip`` of each cell of the columns ``c{index}``; a column no cell of which
    needs it is itself (no copy). The columns are looked at in one pass, in parallel."""
    import polars as pl  # noqa: PLC0415

    names = [f"c{index}" for index in sorted(set(indexes))]
    edged = cells.select(pl.col(name).str.contains(_EDGE_SPACE).any() for name in names).row(0)
    stripped = [name for name, edge in zip(names, edged, strict=True) if edge]
    if stripped:
        cells = cells.with_columns(pl.col(name).str.strip_chars(_SPACES) for name in stripped)
    return {int(name[1:]): cells[name] for name in names}


def _per_combo(combo: ColumnT, values: Sequence[Any], dtype: Any) -> ColumnT:
    """Each row's value for its combination number (``_combos``): ``values[combo]``."""
    import polars as pl  # noqa: PLC0415

    table = pl.Series(list(values), dtype=dtype)
    if isinstance(combo, pl.Series):
        return table.gather(combo).alias(combo.name)
    return pl.lit(table).gather(combo)


def _through(column: pl.Series, decide: Callable[[str], Any], dtype: Any) -> pl.Series | None:
    """``decide`` applied once per distinct value (the reference function, not a copy of
    it); None when the column has too many distinct values for that to pay."""
    distinct = column.unique()
    if distinct.len() > _MAX_DISTINCT:
        return None
    keys = distinct.to_list()
    return column.replace_strict(keys, [decide(key) for key in keys], return_dtype=dtype)


class _Later(Collection[str]):
    """A set of strings made only when first asked: every ``uniqueId`` of the file (only
    ``missing_users: delete`` asks), the e-mails handed to the target (a stand-in target
    may never ask)."""

    def __init__(self, make: Callable[[], frozenset[str]]) -> None:
        self._make = make
        self._set: frozenset[str] | None = None

    def _all(self) -> frozenset[str]:
        if self._set is None:
            self._set = self._make()
        return self._set

    def __contains__(self, key: object) -> bool:
        return key in self._all()

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


class _FileFacts:
    """What the row rules make of each row, in columns, before any snapshot is read.

    ``frame`` holds per row: ``regular`` (header width), ``uid`` (trimmed), ``active``,
    ``email`` (normalized, null when invalid), ``user`` (the rules keep the row as an
    Active user), the profile (``p0``...) and custom (``k0``...) values as the rules make
    them, ``boss`` (the manager cell, trimmed; only when the file maps one) and ``combo``:
    the index of its (path, rule groups) in ``combos``.
    """

    def __init__(
        self,
        cut: _Cut,
        config: Hris,
        rules_: Rules,
        frame: pl.DataFrame,
        combos: list[tuple[Any, ...]],
        *,
        uids_distinct: bool,
    ) -> None:
        self.cut, self.config, self.rules, self.frame, self.combos = cut, config, rules_, frame, combos
        #: No trimmed ``uniqueId`` is on two rows (a row found by its key is the only one).
        self.uids_distinct = uids_distinct

    @classmethod
    def of(cls, cut: _Cut, config: Hris) -> _FileFacts | None:
        import polars as pl  # noqa: PLC0415

        r = Rules(cut.header, config)
        cells = cut.cells
        regular = cut.plain.clone()
        fixed = [row for row, values in cut.odd.items() if len(values) == len(cut.header)]
        if fixed:
            regular.scatter(pl.Series(fixed, dtype=pl.UInt32), True)
        active = _through(cells[f"c{r.status_i}"], rules.is_active, pl.Boolean)
        email = _emails(cells[f"c{r.email_i}"])
        if active is None or email is None:
            return None
        manager = [] if r.manager_i is None else [r.manager_i]
        trim = _trimmed(cells, [r.uid_i, *r.profile_idx, *r.custom_idx, *manager])
        columns: list[pl.Series | pl.Expr] = [
            cut.plain,
            regular.alias("regular"),
            trim[r.uid_i].alias("uid"),
            active.alias("active"),
            email.alias("email"),
            *(trim[index].alias("boss") for index in manager),
        ]
        valid: list[pl.Expr] = []
        for pos, index in enumerate(r.profile_idx):
            trimmed = trim[index]
            if pos == r.lang_pos:
                codes = _through(trimmed, partial(_language, r.languages), pl.String)
                if codes is None:
                    return None
                trimmed = codes
                valid.append(pl.col(f"p{pos}").is_not_null())
            columns.append(trimmed.alias(f"p{pos}"))
        dates = {pos for pos, _ in r.date_checks}
        for pos, index in enumerate(r.custom_idx):
            trimmed = trim[index]
            columns.append(trimmed.alias(f"k{pos}"))
            if pos in dates:
                day = _through(trimmed, lambda value: not value or r.valid_date(value), pl.Boolean)
                if day is None:
                    return None
                columns.append(day.alias(f"k{pos}_day"))
                valid.append(pl.col(f"k{pos}_day"))
        found = _combos(cells, cut.header, r)
        if found is None:
            return None
        combo, combos = found
        columns.append(combo)
        frame = cells.select(columns)
        uids = frame["uid"]
        distinct = all_distinct(uids)
        if distinct:
            twice = pl.repeat(False, uids.len(), dtype=pl.Boolean, eager=True)
            frame = frame.with_columns(uid_twice=twice, uid_any_twice=twice)
        else:
            frame = frame.with_columns(
                # Duplicates count among rows of the header's width, as ``desired._keys`` does.
                uid_twice=pl.when(pl.col("regular")).then(pl.col("uid")).is_duplicated() & pl.col("regular"),
                uid_any_twice=pl.col("uid").is_duplicated(),
            )
        frame = frame.with_columns(
            combo_ok=_per_combo(pl.col("combo"), [combo[2] for combo in combos], pl.Boolean),
        )
        user = (
            pl.col("regular")
            & (pl.col("uid") != "")
            & ~pl.col("uid_twice")
            & pl.col("active")
            & pl.col("combo_ok")
            & pl.col("email").is_not_null()
        )
        for condition in valid:
            user = user & condition
        frame = frame.with_columns(user=user.fill_null(False))
        return cls(cut, config, r, frame, combos, uids_distinct=distinct)

    def active_emails(self) -> frozenset[str]:
        """The addresses the reference hands the target: those of the Active users."""
        return frozenset(self.frame.filter(self.frame["user"])["email"].to_list())

    def desired(self, snapshot: Snapshot) -> tuple[DesiredState, Snapshot] | None:
        """The reference desired state of the rows not settled here, with the settled ones
        counted, and the snapshot to plan them against (``held.narrowed``); None when this
        path cannot vouch for the plan (the caller reads the file the reference way)."""
        import polars as pl  # noqa: PLC0415

        found = self.settled(snapshot)
        if found is None:
            return None
        settled, m_row = found
        cut = self.cut
        hris_file = HrisFile(cut.file_name, cut.header, *self._left(~settled), cut.delimiter, header_line=1)
        desired = build_desired(hris_file, self.config)
        done = self.frame.select("uid", "combo").with_row_index("row").filter(settled)
        without_rule = 0
        if self.config.groups.rules:
            rule_free = [not combo[1] for combo in self.combos]
            without_rule = int(_per_combo(done["combo"], rule_free, pl.Boolean).sum())
        uids = done["uid"]
        reference = desired.present

        def present() -> frozenset[str]:
            return frozenset(reference).union(uids.to_list())

        lookup: dict[str, int] = {}

        def line_of(unique_id: str) -> int | None:
            if not lookup and done.height:
                lookup.update(zip(uids.to_list(), (row + 2 for row in done["row"].to_list()), strict=True))
            return lookup.get(unique_id)

        left = ~settled
        planned_against = narrowed(
            snapshot,
            settled=m_row.filter(settled),
            emails=self.frame["email"].filter(left),
            managers=self.frame["boss"].filter(left)
            if "boss" in self.frame
            else pl.Series([], dtype=pl.String),
        )
        desired = replace(
            desired,
            present=_Later(present),
            settled=done.height,
            settled_without_rule=without_rule,
            settled_line=line_of,
        )
        return desired, planned_against

    def _left(self, left: pl.Series) -> tuple[RowTable, list[int]]:
        """The rows ``left`` flags as csv reads them, and their lines: the table the reference
        reader would build for them (column by column, as it does, never a list per row)."""
        import polars as pl  # noqa: PLC0415

        cut = self.cut
        width = len(cut.header)
        blank = [row for row, cells in cut.odd.items() if not cells]  # csv skips blank lines
        if blank:
            left = left.scatter(pl.Series(blank, dtype=pl.UInt32), False)
        kept = cut.cells.with_row_index("row").filter(left)
        rows = kept["row"].to_list()
        columns = [kept[f"c{j}"].to_list() for j in range(width)]
        irregular: dict[int, list[str]] = {}
        if cut.odd:
            for i, row in enumerate(rows):
                cells = cut.odd.get(row)
                if cells is not None and len(cells) != width:
                    irregular[i] = cells
                    for column in columns:  # as ``TableBuilder`` keeps such a row
                        column[i] = ""
        return RowTable(columns, irregular, len(rows)), [row + 2 for row in rows]

    def settled(self, snapshot: Snapshot) -> tuple[pl.Series, pl.Series] | None:
        """Per row, whether it is settled, and its linked user's row in ``SnapshotColumns``
        (null for none); None when this path cannot decide the file."""
        import polars as pl  # noqa: PLC0415

        r, config = self.rules, self.config
        fids = _custom_field_ids(r, config, snapshot)
        if fids is None:
            return None
        try:
            tree = GroupTree(snapshot, config)
        except PlanError:
            return None  # the reference planner raises it, with its message
        lms = snapshot_columns(snapshot)
        frame = self.frame
        emails = frame["email"]
        once = emails.is_null() | ~emails.is_in(pl.Series(shared_mails(snapshot), dtype=pl.String).implode())
        if not all_distinct(emails):
            once = once & ~emails.is_duplicated()
        # No rule can delete or skip this row's user (a manager that others keep).
        stays = frame["regular"] & (frame["uid"] != "") & ~frame["uid_any_twice"] & frame["active"] & once
        # Only the key is looked up: joining the whole frame would copy every column.
        m_row = _positions(frame["uid"], lms.users["uid"]).alias("m_row")  # users' rows are 0..n-1
        frame = frame.with_columns(stays.alias("stays"), m_row)

        def lms_column(column: pl.Series) -> pl.Expr:
            return pl.lit(column).gather(pl.col("m_row"))

        # One frame select: polars compares the columns on every core at once.
        same = [
            pl.col("plain") & pl.col("user") & pl.col("stays"),
            lms_column(lms.users["status"]) == "active",
            pl.col("email") == lms_column(lms.users["mail"]),
        ]
        for pos, name in enumerate(r.profile_fields):
            same.append(pl.col(f"p{pos}") == lms_column(lms.users[PROFILE_ATTRIBUTES[name]]))
        for pos, fid in enumerate(fids):
            same.append(pl.col(f"k{pos}") == lms_column(lms.value(fid)).fill_null(""))
        ok = frame.select(reduce(and_, same)).to_series()
        ok = ok & self._groups(frame, lms, tree)
        if r.manager_i is not None:
            ok = ok & self._managers(frame, lms)
        return ok.fill_null(False).alias("settled"), m_row

    def _groups(self, frame: pl.DataFrame, lms: SnapshotColumns, tree: GroupTree) -> pl.Series:
        """Learner of the synchronized group, of exactly the scope groups the row wants (as
        many, and each of them), and of no group the connector managed before."""
        import polars as pl  # noqa: PLC0415

        m_row = frame["m_row"]
        number = lms.group_number
        wanted = [
            None if path is None else tree.wanted_groups(path, rule_groups)
            for path, rule_groups, _ in self.combos
        ]
        combo = frame["combo"]
        want = _per_combo(combo, [None if w is None else len(w) for w in wanted], pl.UInt32)
        scope = pl.Series([number[g] for g in tree.scope - {tree.root_id} if g in number], dtype=pl.UInt32)
        # Per user: how many scope groups it is learner of, and the smallest one's number.
        held = (
            lms.roles.filter(pl.col("group").is_in(scope.implode()))
            .group_by("row")
            .agg(pl.len().alias("n"), pl.col("group").min().alias("first"))
        )
        count = pl.repeat(0, lms.users.height, dtype=pl.UInt32, eager=True)
        first = pl.repeat(None, lms.users.height, dtype=pl.UInt32, eager=True)
        count.scatter(held["row"], held["n"])
        first.scatter(held["row"], held["first"])
        ok = lms.holders(tree.root_id).gather(m_row) & (want == count.gather(m_row))
        for group in tree.former:
            ok = ok & ~lms.holders(group).gather(m_row)
        # One wanted group (the usual leaf): the one held is it. More: each is looked up.
        sole = [None if w is None or len(w) != 1 else number.get(w[0]) for w in wanted]
        ok = ok & ((want != 1) | (_per_combo(combo, sole, pl.UInt32) == first.gather(m_row)))
        depth = max((len(w) for w in wanted if w is not None), default=0)
        if depth > 1:
            pairs = lms.roles.select(pl.col("row").cast(pl.UInt64) * _SHIFT + pl.col("group")).to_series()
            for j in range(depth):
                at = [number.get(w[j]) if w is not None and j < len(w) else None for w in wanted]
                code = _per_combo(combo, at, pl.UInt64)
                key = m_row.cast(pl.UInt64) * _SHIFT + code
                ok = ok & ((want <= 1) | (want <= j) | key.is_in(pairs.implode()).fill_null(False))
        return ok

    def _managers(self, frame: pl.DataFrame, lms: SnapshotColumns) -> pl.Series:
        """The user has exactly the manager its cell names ("" for none), and that
        manager's row stays (the reference re-plans users whose manager the plan deletes or
        skips)."""
        import polars as pl  # noqa: PLC0415

        boss = frame["boss"]
        # Most managers are rows of the file: their LMS id and fate come from the row
        # (a uniqueId on two rows never stays, so the first one found is as good).
        m_row = frame["m_row"]
        live_id = lms.users.select(pl.when(pl.col("status") != "deleted").then(pl.col("id"))).to_series()
        uids = frame["uid"]
        if self.uids_distinct:
            row = _positions(boss, uids)
        else:
            first = frame.select(pl.int_range(pl.len(), dtype=pl.UInt32).alias("at"), "uid").filter(
                pl.col("uid").is_first_distinct()
            )
            row = first["at"].gather(_positions(boss, first["uid"]))
        row = pl.select(pl.when(boss != "").then(row)).to_series()  # "" names no manager
        boss_id = live_id.gather(m_row.gather(row))
        in_file = row.is_not_null()
        safe = frame["stays"].gather(row).fill_null(False)
        absent = ~in_file & (boss != "")
        if absent.any():
            # A manager not in the file: still linked and live in the LMS? It stays unless
            # missing users are deleted.
            outside = live_id.gather(_positions(boss, lms.users["uid"]))
            boss_id = boss_id.zip_with(in_file, outside)
            if self.config.missing_users != "delete":
                safe = safe | absent
        managers = lms.users["managers"].gather(m_row)
        empty = (boss == "") & (managers == "")
        named = (boss != frame["uid"]) & boss_id.is_not_null() & (managers == _SEP + boss_id) & safe
        return (empty | named).fill_null(False)


def _custom_field_ids(r: Rules, config: Hris, snapshot: Snapshot) -> list[str] | None:
    """The definition each mapped custom column feeds, as the planner picks it; None when
    the plan creates a definition or takes a renamed one's values away (rare runs, planned
    the reference way)."""
    by_name = definitions_by_name(snapshot.custom_fields)
    fids = [by_name[title].id if title in by_name else None for _, title, _ in r.custom]
    still_ours = fed_definition_ids(snapshot.custom_fields, config.custom_field_titles)
    if None in fids or snapshot.previous_custom_fields - still_ours:
        return None
    return [fid for fid in fids if fid is not None]


def _emails(column: pl.Series) -> pl.Series | None:
    """``rows.normalize_email`` of each cell (null when invalid): cells already in the
    plain form it returns unchanged are kept, the others go through it one by one."""
    import polars as pl  # noqa: PLC0415

    plain = column.str.contains(_PLAIN_EMAIL)
    if plain.all():
        return column
    others = column.filter(~plain).unique()
    if others.len() > _MAX_DISTINCT:
        return None
    found = others.to_list()
    normalized = pl.Series([rules.normalize_email(value) for value in found], dtype=pl.String)
    return column.zip_with(plain, column.replace(found, normalized)).alias(column.name)


def _combos(
    cells: pl.DataFrame, header: tuple[str, ...], r: Rules
) -> tuple[pl.Series, list[tuple[Any, ...]]] | None:
    """Per row, an index into the distinct combinations of its filter, level and rule
    cells, each decided once by the reference rules: (group path or None when a level
    cannot be a group name, rule groups, whether the filter keeps it and the path is good)."""
    import polars as pl  # noqa: PLC0415

    keys = sorted({*r.level_idx, *r.rule_idx, *(i for i, _ in (r.keep.tests if r.keep else ()))})
    if not keys:
        return pl.repeat(0, cells.height, dtype=pl.UInt32, eager=True).alias("combo"), [((), (), True)]
    names = [f"c{i}" for i in keys]
    # Each distinct combination with the rows holding it, in order of first appearance.
    groups = cells.select(names).with_row_index("at").group_by(names, maintain_order=True).agg("at")
    if groups.height > _MAX_DISTINCT:
        return None
    combos: list[tuple[Any, ...]] = []
    for values in groups.select(names).iter_rows():
        row = [""] * len(header)
        for i, value in zip(keys, values, strict=True):
            row[i] = value
        keep = r.keep is None or r.keep.matches(row)
        path, bad = r.path(row) if r.level_idx else ((), None)
        combos.append((None if bad is not None else path, r.rule_groups(row), keep and bad is None))
    number = pl.int_range(pl.len(), dtype=pl.UInt32)
    pairs = groups.select(
        pl.col("at").explode(), number.repeat_by(pl.col("at").list.len()).explode().alias("combo")
    )
    combo = pl.repeat(0, cells.height, dtype=pl.UInt32, eager=True).alias("combo")
    combo.scatter(pairs["at"], pairs["combo"])
    return combo, combos
