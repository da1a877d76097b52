"""The rules a schema keeps so that it can be moved onto Citus as planned in docs/operations.md ("Past one
Postgres"), checked on a migrated schema of a plain Postgres (no Citus needed).

A service declares how each of its tables would be placed: distributed on a column (tables sharing a
`colocation` name are co-located: same shards for the same value), a reference table (copied to every node),
or local (kept on the coordinator). `violations` lists what Citus would refuse or what the plan did not
foresee:

- every table of the schema is placed (a new table forces a decision);
- a distributed table has its distribution column, NOT NULL;
- every primary key, unique constraint and unique index of a distributed table includes its distribution
  column (Citus enforces uniqueness per shard only); exclusion constraints likewise;
- co-located tables have distribution columns of one type;
- a foreign key between distributed tables joins co-located tables on their distribution columns; none goes
  from a reference or local table to a distributed one, nor from a distributed or reference table to a local
  one; a reference table refers only to reference tables;
- `pending`: constraints known to break a rule, each named with the change that lifts it (docs), so that the
  check stays exact: a pending constraint that no longer breaks the rule must be removed from the list.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection


@dataclass(frozen=True, slots=True)
class Distributed:
    column: str
    colocation: str


@dataclass(frozen=True, slots=True)
class Placement:
    distributed: Mapping[str, Distributed]
    reference: frozenset[str]
    local: frozenset[str]
    pending: frozenset[str] = field(default_factory=frozenset)  # "table.constraint" known to break a rule


_TABLES = text(
    """
    SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = :schema AND c.relkind IN ('r', 'p') AND NOT c.relispartition
    """
)
_COLUMNS = text(
    """
    SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = :schema AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
    """
)
# unique indexes (those of primary keys and unique constraints among them) and exclusion constraints, with
# the columns they cover (an expression counts as no column)
_UNIQUES = text(
    """
    SELECT c.relname, coalesce(k.conname, i.relname),
           array(SELECT a.attname FROM unnest(x.indkey) AS u(n) JOIN pg_attribute a
                 ON a.attrelid = c.oid AND a.attnum = u.n)
    FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class c ON c.oid = x.indrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_constraint k ON k.conindid = i.oid AND k.conrelid = c.oid
    WHERE n.nspname = :schema AND NOT c.relispartition AND (x.indisunique OR k.contype = 'x')
    """
)
_FOREIGN_KEYS = text(
    """
    SELECT c.relname, k.conname, f.relname,
           array(SELECT a.attname FROM unnest(k.conkey) AS u(n)
                 JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = u.n),
           array(SELECT a.attname FROM unnest(k.confkey) AS u(n)
                 JOIN pg_attribute a ON a.attrelid = f.oid AND a.attnum = u.n)
    FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class f ON f.oid = k.confrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = :schema AND k.contype = 'f' AND NOT c.relispartition
    """
)


async def violations(conn: AsyncConnection, schema: str, placement: Placement) -> list[str]:
    """What breaks the rules in `schema` as migrated, beyond `placement.pending` (empty: compatible)."""
    found: list[str] = []
    tables = {r[0] for r in await conn.execute(_TABLES, {"schema": schema})}
    placed = set(placement.distributed) | placement.reference | placement.local
    found += [f"{t}: not placed (distributed, reference or local?)" for t in sorted(tables - placed)]
    found += [f"{t}: placed but not in the schema" for t in sorted(placed - tables)]
    columns = {(r[0], r[1]): (r[2], r[3]) for r in await conn.execute(_COLUMNS, {"schema": schema})}
    for table, d in placement.distributed.items():
        if (table, d.column) not in columns:
            found.append(f"{table}: no distribution column {d.column}")
        elif not columns[(table, d.column)][1]:
            found.append(f"{table}: distribution column {d.column} may be NULL")
    types: dict[str, set[str]] = {}
    for table, d in placement.distributed.items():
        if (table, d.column) in columns:
            types.setdefault(d.colocation, set()).add(columns[(table, d.column)][0])
    found += [f"co-location {g}: distribution columns of types {sorted(t)}" for g, t in types.items() if len(t) > 1]
    breaking: set[str] = set()
    for table, name, cols in await conn.execute(_UNIQUES, {"schema": schema}):
        unique_of = placement.distributed.get(table)
        if unique_of is not None and unique_of.column not in cols:
            breaking.add(f"{table}.{name}")
    for table, name, target, cols, target_cols in await conn.execute(_FOREIGN_KEYS, {"schema": schema}):
        source_d, target_d = placement.distributed.get(table), placement.distributed.get(target)
        key = f"{table}.{name}"
        if source_d is not None and target_d is not None:
            joined = dict(zip(cols, target_cols, strict=True)).get(source_d.column) == target_d.column
            if source_d.colocation != target_d.colocation or not joined:
                breaking.add(key)
        elif target_d is not None or (  # from a reference or local table to a distributed one
            target in placement.local and (source_d is not None or table in placement.reference)
        ):
            breaking.add(key)
    found += [f"{c}: breaks a rule (not in the documented pending list)" for c in sorted(breaking - placement.pending)]
    found += [f"{c}: listed as pending but no longer breaks a rule" for c in sorted(placement.pending - breaking)]
    return found
