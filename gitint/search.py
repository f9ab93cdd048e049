"""Repository search for the type-ahead, served by database indexes (nothing kept per process).

Order: exact, prefix of the full name, prefix of a name after "/", then any substring; names in
code-point order within each part (SQLite's BINARY, PostgreSQL's COLLATE "C").

- A prefix is a range on a (tenant_id, search_name) index, read in its order: SQLite's
  ix_repositories_tenant_search, PostgreSQL's ix_repositories_tenant_search_c (COLLATE "C", the
  collation the queries use). Exact matches sort first in it.
- A substring is first looked for in the tenant's first ``FIRST_WINDOW`` names, walked in
  order on the prefix index: a common substring fills a page there. If it found some but not a
  page, the substring is not rare: the first ``WINDOW`` names are walked, stopping at a page.
  If it found none, the trigram index — SQLite's FTS5 table repositories_search, PostgreSQL's
  pg_trgm GIN index ix_repositories_search_trgm — is asked first for at most ``FEW`` + 1 rows:
  if there are no more, they are all the matches in the database, checked and sorted (a rare
  substring, or none at all). A GIN look-up cannot stop early (a trigram common to most names
  costs it every posting), so the walks, which stop at a page, come first where matches are
  dense. If neither answers (a substring common in the database but rare in the tenant's first
  names, e.g. part of an owner that sorts late), all the index's candidates are sorted: the
  one slow case, its cost growing with the number of matches.
- The part after "/" takes its candidates from the segment indexes instead
  (models.segment_indexes), asked first, before any walk (capped ranges cost little; they
  return each name with its id, so a "few" answer reads no rows): ranges on
  the text after a name's first and second "/", and for the names with three or more
  PostgreSQL's trigram index of them, SQLite's FTS5 table when the tenant has any. pg_trgm
  keeps no positions, so for "/ing" it would propose every name with an "ing" anywhere and an
  "/in", and read each one's row to learn that none holds "/ing"; FTS5 checks positions but
  reads each trigram's whole list first ("/le-or": every "-or" of every "-org"); a range reads
  only the names that do.
- Every candidate is checked on the real name (instr/strpos), so answers are exact. A substring
  the trigram index cannot look up (fewer than 3 characters; on PostgreSQL, fewer than 3 letters
  or digits in a row) is only looked for in the window: in a tenant with more than ``WINDOW``
  repositories a 1- or 2-character query lists every prefix match but substrings only from its
  first ``WINDOW`` names. A third character makes it complete.

A search is a bounded number of statements whatever the repository count (``MAX_STATEMENTS``:
the prefix range, per substring part a short walk, a "few" look-up, a walk and the candidates,
the windows' bounds once each, and loading the page's rows). They are built once per dialect,
with bound parameters.
"""

from dataclasses import dataclass
from functools import cache

from sqlalchemy import (
    Integer,
    String,
    and_,
    bindparam,
    case,
    column,
    func,
    literal,
    literal_column,
    not_,
    select,
    table,
    text,
    union_all,
)
from sqlalchemy.dialects import sqlite

from .extensions import db
from .models import Repository, after_slash, code_points, has_slash, search_words

PAGE_SIZE = 20
FEW = 1000  # trigram-index rows checked and sorted at most; more: a common substring
WINDOW = 20_000  # names walked in order when the trigram index has many rows for a needle
FIRST_WINDOW = 2_000  # names walked in order before the trigram index is asked
MAX_STATEMENTS = 1 + 2 * 4 + 2 + 1  # prefix, two parts × (short walk, few, walk, candidates),
# the two windows' bounds, rows
_SEPARATORS = str.maketrans("/-_.", "qzjx")  # as models.search_words() in the database


def normalize(query: str) -> str:
    """The query as search_name stores names: lower-cased, without NULs or line breaks."""
    return query.strip().lower().replace("\n", "").replace("\r", "").replace("\x00", "")


def search_repositories(
    tenant_id: int, query: str, page: int = 0, size: int = PAGE_SIZE
) -> tuple[list[Repository], bool]:
    """One page (``size`` rows, the ``page``-th from 0) of the tenant's repositories matching
    ``query``, best first: exact, prefix of the full name, prefix of a name after "/", then any
    substring. Returns (rows, more)."""
    q = normalize(query)
    wanted = (page + 1) * size + 1  # one more than this page: is there a next one?
    finder = _Finder(tenant_id)
    if not q:
        ids = finder.ids("everything", limit=wanted)
    else:
        ids = finder.ids(
            "prefix" if _upper(q) else "prefix_open", q=q, upper=_upper(q), limit=wanted
        )
        parts = (
            _Part(needle="/" + q, prefix=q),  # after "/", not already a prefix
            _Part(needle=q, prefix=q, also_not="/" + q),  # anywhere else
        )
        for part in parts:
            if len(ids) >= wanted:
                break
            ids += finder.substring(part, wanted - len(ids))
    chosen = ids[page * size : (page + 1) * size]
    rows = {}
    if chosen:
        found = db.session.scalars(_ROWS, {"tenant": tenant_id, "ids": chosen})
        rows = {r.id: r for r in found}
    return [rows[i] for i in chosen if i in rows], len(ids) > (page + 1) * size


# the page's rows by their ids, built once (SQLAlchemy keeps a statement's cache key on it: a
# prebuilt one is not built and keyed again on every keystroke); "+ 0": the tenant is checked
# on each row found, not looked up in a tenant index (SQLite would read the tenant's every name)
_ROWS = select(Repository).where(
    Repository.id.in_(bindparam("ids", expanding=True)),
    Repository.tenant_id + 0 == bindparam("tenant"),
)


@dataclass(frozen=True)
class _Part:
    """The names holding ``needle`` that neither start with ``prefix`` nor hold ``also_not``
    (the matches of an earlier part)."""

    needle: str
    prefix: str
    also_not: str | None = None

    def parameters(self) -> dict:
        return {
            "needle": self.needle,
            "prefix": self.prefix,
            "prefix_length": len(self.prefix),
            "also_not": self.also_not,
            "upper": _upper(self.prefix),  # the segment ranges (the first part)
        }


def _upper(prefix: str) -> str | None:
    """The smallest string above every string that starts with ``prefix`` (code-point order), or
    None when there is none."""
    while prefix:
        code = ord(prefix[-1]) + 1
        if 0xD800 <= code <= 0xDFFF:  # surrogates are not characters: no name holds one
            code = 0xE000
        if code <= 0x10FFFF:
            return prefix[:-1] + chr(code)
        prefix = prefix[:-1]
    return None


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _phrase(needle: str) -> str:
    """An FTS5 query for the trigrams of ``needle`` in a row (a quoted string is literal)."""
    return '"' + needle.replace('"', '""') + '"'


def indexed(needle: str, postgresql: bool) -> bool:
    """Whether the trigram index can look ``needle`` up: SQLite's FTS5 trigrams are any 3
    characters; pg_trgm's come from runs of letters and digits (separators made letters)."""
    if not postgresql:
        return len(needle) >= 3
    run = 0
    for character in needle.translate(_SEPARATORS):
        run = run + 1 if character.isalnum() else 0
        if run == 3:
            return True
    return False


class _Finder:
    """The statements of one search, for the session's database (SQLite or PostgreSQL)."""

    def __init__(self, tenant_id: int):
        self.tenant_id = tenant_id
        self.dialect = db.session.get_bind().dialect.name
        self.postgresql = self.dialect == "postgresql"
        self._bounds: dict[int, str | None] = {}  # a window's size: its last name
        self._common: set[str] = set()  # needles the trigram index has many rows for

    def run(self, kind: str, excluding: bool = False, **parameters):
        statement = _statement(self.dialect, kind, excluding)
        return db.session.execute(statement, {"tenant": self.tenant_id, **parameters})

    def ids(self, kind: str, excluding: bool = False, **parameters) -> list[int]:
        return list(self.run(kind, excluding, **parameters).scalars())

    def substring(self, part: _Part, limit: int) -> list[int]:
        """The first ``limit`` ids in name order of the tenant's names that ``part`` holds."""
        excluding = part.also_not is not None
        parameters = part.parameters() | {"limit": limit, "few": FEW}
        segments = not excluding  # after "/": the segment indexes' ranges
        if not indexed(part.needle, self.postgresql) or (segments and parameters["upper"] is None):
            return self.walk(excluding, parameters)  # the window only (see the module's doc)
        pattern = self.pattern(part.needle)
        if segments:  # after "/": the capped ranges first, cheap whatever the needle: the answer
            found = self.few(part, pattern, parameters)  # for a rare one (or none), else None
            if found is not None:
                return found
        walked = self.walk(excluding, parameters, FIRST_WINDOW)  # a common needle: a page
        if len(walked) >= limit or self.bound(FIRST_WINDOW) is None:
            return walked

        def window() -> list[int] | None:  # a page, or the whole tenant: the answer
            walked = self.walk(excluding, parameters)  # dense matches: it stops early
            return walked if len(walked) >= limit or self.bound() is None else None

        def rare() -> list[int] | None:  # a rare needle (or none): the answer
            return self.few(part, pattern, parameters)

        # matches in the short walk: not rare, so the longer walk likely fills the page first;
        # none: the trigram index likely has few rows for the needle. After "/" the ranges
        # said above that there are many
        for step in (window,) if segments else (window, rare) if walked else (rare, window):
            found = step()
            if found is not None:
                return found
        return self.ids("candidates", excluding, pattern=pattern, **parameters)

    def walk(self, excluding: bool, parameters: dict, size: int | None = None) -> list[int]:
        """The first ``limit`` matching ids, in name order, of the first ``size`` names
        (default ``WINDOW``)."""
        size = size or WINDOW
        if self.postgresql:  # one statement, reading the index in order
            return self.ids("walk_window", excluding, **parameters | {"window": size})
        bound = self.bound(size)
        if bound is None:
            return self.ids("walk", excluding, **parameters)
        return self.ids("walk_window", excluding, bound=bound, **parameters)

    def pattern(self, needle: str) -> str:
        """The trigram index's query for ``needle``."""
        if self.postgresql:
            return "%" + _like(needle.translate(_SEPARATORS)) + "%"
        return _phrase(needle)

    def few(self, part: _Part, pattern: str, parameters: dict) -> list[int] | None:
        """The answer for ``part`` when the trigram index has at most ``FEW`` rows for its needle
        (in all tenants), else None (and the needle is remembered as common): one statement,
        the capped count and the answer; none for a needle holding a known common one."""
        if any(common in part.needle for common in self._common):
            return None
        rows = self.run("few", part.also_not is not None, pattern=pattern, **parameters).all()
        if any(id_ == -1 and n > FEW for id_, n in rows):
            self._common.add(part.needle)
            return None
        return [id_ for id_, _ in rows if id_ != -1]

    def bound(self, size: int | None = None) -> str | None:
        """The tenant's ``size``-th name (default ``WINDOW``: the end of a walked window), or
        None when it has fewer repositories; asked once per search and size."""
        size = size or WINDOW
        if size not in self._bounds:
            self._bounds[size] = self.run("bound", offset=size - 1).scalar()
        return self._bounds[size]


EMPTY_PHRASE = literal_column("'\"\"'")  # FTS5: shorter than a trigram, it matches nothing


def _sqlite(condition) -> str:
    """A condition without parameters, as SQLite's SQL."""
    return str(condition.compile(dialect=sqlite.dialect()))


@cache
def _statement(dialect: str, kind: str, excluding: bool):
    """The statement of ``kind`` for ``dialect`` (parameters: tenant, q, upper, needle, prefix,
    prefix_length, also_not, bound, pattern, limit, offset, few, window)."""
    postgresql = dialect == "postgresql"
    names = Repository.search_name

    def name(column=names):
        return column.collate("C") if postgresql else column  # code-point order

    def holds(column=names):
        def contains(needle):
            return (func.strpos if postgresql else func.instr)(column, needle) > 0

        length = bindparam("prefix_length", type_=Integer)
        start = func.left(column, length) if postgresql else func.substr(column, 1, length)
        condition = and_(
            contains(bindparam("needle", type_=String)), start != bindparam("prefix", type_=String)
        )
        if excluding:  # the second part: not the names the first part holds
            condition = and_(condition, not_(contains(bindparam("also_not", type_=String))))
        return condition

    def trigrams(pattern=None):  # the trigram index's candidates (all tenants)
        pattern = bindparam("pattern", type_=String) if pattern is None else pattern
        if postgresql:
            return select(Repository.id).where(search_words(names).like(pattern))
        return (
            select(literal_column("rowid"))
            .select_from(table("repositories_search"))
            .where(literal_column("repositories_search").match(pattern))
        )

    def matching():  # candidate ids: after "/" exactly the names holding "/" + q
        return trigrams() if excluding else select(segments(capped=False).subquery().c.id)

    def segments(capped):
        """(id, name) of the tenant's names holding "/" + prefix: those whose text after their
        first or second "/" starts with prefix (models.segment_indexes; ``capped``: ranges that
        stop at ``few`` + 1), and any with three or more "/" that the trigram index proposes."""
        first, second = after_slash(names), after_slash(after_slash(names))
        prefix = bindparam("prefix", type_=String)
        upper = bindparam("upper", type_=String)
        pairs = select(Repository.id, names.label("name"))

        def starting(segment, having):
            segment = code_points(segment)  # as the index orders it
            found = pairs.where(tenant, having, segment >= prefix, segment < upper)
            if not capped:
                return found
            found = found.limit(bindparam("few", type_=Integer) + 1).subquery()
            return select(found.c.id, found.c.name)  # SQLite takes a UNION part's LIMIT so only

        if postgresql:  # the deep names' own trigram index
            like = search_words(names).like(bindparam("pattern", type_=String))
            deep = pairs.where(tenant_of_candidates, has_slash(second), like)
        else:  # FTS5's candidates when the tenant has deep names (ix_repositories_deep says:
            # INDEXED BY, or SQLite may read the tenant's every name to learn it), else an empty
            # phrase: FTS5 reads a common trigram's whole list before any WHERE term could stop
            # it, and a phrase under 3 characters matches nothing at once
            three = _sqlite(has_slash(second))  # our own expression, compiled: no input in it
            deep_names = text(
                "SELECT 1 AS one FROM repositories INDEXED BY ix_repositories_deep"  # noqa: S608
                " WHERE repositories.tenant_id = :tenant AND " + three
            )
            deep_names = deep_names.bindparams(bindparam("tenant", type_=Integer))
            deep_names = deep_names.columns(column("one", Integer))
            pattern = bindparam("pattern", type_=String)
            proposed = trigrams(case((deep_names.exists(), pattern), else_=EMPTY_PHRASE))
            deep = pairs.where(Repository.id.in_(proposed), tenant_of_candidates)
        return union_all(
            starting(first, has_slash(names)), starting(second, has_slash(first)), deep
        )

    tenant = Repository.tenant_id == bindparam("tenant", type_=Integer)
    # "+ 0": no index on tenant_id, so the planner starts from the trigram index's candidates
    tenant_of_candidates = Repository.tenant_id + 0 == bindparam("tenant", type_=Integer)

    def ordered(*conditions):
        statement = select(Repository.id).where(*conditions).order_by(name(), Repository.id)
        return statement.limit(bindparam("limit", type_=Integer))

    if kind == "everything":
        return ordered(tenant)
    if kind == "prefix":  # a range on the index, in its order (exact matches first)
        return ordered(
            tenant,
            name() >= bindparam("q", type_=String),
            name() < bindparam("upper", type_=String),
        )
    if kind == "prefix_open":
        return ordered(tenant, name() >= bindparam("q", type_=String))
    if kind == "bound":
        return (
            select(names)
            .where(tenant)
            .order_by(name(), Repository.id)
            .offset(bindparam("offset", type_=Integer))
            .limit(1)
        )
    if kind == "walk":
        return ordered(tenant, holds())
    if kind == "walk_window" and postgresql:
        # the first ``window`` names; the outer order is the inner one, so PostgreSQL reads the
        # index in order and stops at ``limit`` matches
        window = (
            select(Repository.id, name().label("name"))
            .where(tenant)
            .order_by(name(), Repository.id)
            .limit(bindparam("window", type_=Integer))
            .subquery()
        )
        return (
            select(window.c.id)
            .where(holds(window.c.name))
            .order_by(window.c.name, window.c.id)
            .limit(bindparam("limit", type_=Integer))
        )
    if kind == "walk_window":
        return ordered(tenant, holds(), name() <= bindparam("bound", type_=String))
    if kind == "candidates":
        return ordered(Repository.id.in_(matching()), tenant_of_candidates, holds())
    if kind == "few":
        few = bindparam("few", type_=Integer)
        if excluding and postgresql:  # the candidates (all tenants) with the name and tenant
            # their recheck read: each row is read once, not again to check and sort it
            found = trigrams().add_columns(names.label("name"), Repository.tenant_id)
            found = found.limit(few + 1).cte("found")
            answer = select(found.c.id, literal(0).label("n"))
            answer = answer.where(found.c.tenant_id == bindparam("tenant"), holds(found.c.name))
            order = (name(found.c.name), found.c.id)
        elif excluding:  # FTS5's candidates (all tenants): each one's row is read
            found = trigrams().limit(few + 1).cte("found")
            answer = select(Repository.id, literal(0).label("n"))
            answer = answer.where(
                Repository.id.in_(select(found.c[0])), tenant_of_candidates, holds()
            )
            order = (name(), Repository.id)
        else:  # the segment ranges' (id, name) pairs, the tenant's: SQLite's from its index
            found = segments(capped=True).limit(few + 1).cte("found")
            answer = select(found.c.id, literal(0).label("n")).where(holds(found.c.name))
            answer = answer.group_by(found.c.id, found.c.name)  # a name in two of the ranges
            order = (name(found.c.name), found.c.id)
        many = select(func.count()).select_from(found).scalar_subquery() > few
        # more than ``few``: no answer, and a LIMIT of 0 reads none of the rows (SQLite checks a
        # WHERE term like not_(many) on every candidate: 1,001 row look-ups for nothing)
        limit = case((many, literal(0)), else_=bindparam("limit", type_=Integer))
        answer = answer.order_by(*order).limit(limit)
        count = select(literal(-1).label("id"), func.count().label("n")).select_from(found)
        return union_all(count, select(answer.subquery()))
    raise ValueError(kind)
