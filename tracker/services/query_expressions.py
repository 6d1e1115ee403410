"""SQL for reading one field of ``Artifact.current_values`` on PostgreSQL and SQLite.

``current_values`` is keyed by field ids, i.e. numeric strings ("5"). Django's JSON key lookups
(``current_values__5``) read a numeric key as an *array index* (``-> 5`` on PostgreSQL, ``$[5]`` on
SQLite: see ``KeyTransform.as_postgresql`` and ``compile_json_path`` in django/db/models/fields/json.py),
which never matches an object key, so these expressions write the key as a string themselves.

On PostgreSQL, equality filters are written as containment (``current_values @> '{"5": 3}'``), the
operator the GIN ``jsonb_path_ops`` index of migration 0016 serves ("The non-default GIN operator class
jsonb_path_ops ... supports indexing the @> operator only", PostgreSQL manual, 8.14.4 jsonb Indexing).
Text search uses the two expression indexes of that migration: the expressions below must stay
identical to the indexed ones for PostgreSQL to use them.
"""

from __future__ import annotations

import json
from typing import Any

from django.db.models import BooleanField, Expression, F, Func, IntegerField, JSONField, TextField
from django.db.models.sql.compiler import SQLCompiler

# The indexed expressions of migration 0016 (kept in sync with it; the migration imports them).
ARTIFACT_DOCUMENT_SQL = "jsonb_to_tsvector('simple'::regconfig, {column}, '[\"string\"]'::jsonb)"
COMMENT_DOCUMENT_SQL = "to_tsvector('simple'::regconfig, {column})"


def _sqlite_path(key: str) -> str:
    return "$." + json.dumps(key)


class _ValuesExpression(Func):
    """Base: one expression over ``current_values`` (resolved with the query's table alias)."""

    def __init__(self, key: str, **extra: Any) -> None:
        self.key = str(key)
        super().__init__(F("current_values"), **extra)

    def _column(self, compiler: SQLCompiler, connection: Any) -> tuple[str, list[Any]]:
        sql, params = compiler.compile(self.source_expressions[0])
        return sql, list(params)


class FieldText(_ValuesExpression):
    """The field's current value as text ('3' for option 3, NULL when empty or missing)."""

    output_field = TextField()

    def as_postgresql(self, compiler: SQLCompiler, connection: Any, **extra: Any) -> tuple[str, list]:
        column, params = self._column(compiler, connection)
        return f"({column} ->> %s)", [*params, self.key]

    def as_sqlite(self, compiler: SQLCompiler, connection: Any, **extra: Any) -> tuple[str, list]:
        column, params = self._column(compiler, connection)
        # json_extract returns SQLite values (3, not '3'): cast, so comparisons with text work alike.
        return f"CAST(json_extract({column}, %s) AS TEXT)", [*params, _sqlite_path(self.key)]


class FieldJson(_ValuesExpression):
    """The field's current value as the database's JSON scalar, for sorting (numbers sort as numbers)."""

    output_field = JSONField()

    def as_postgresql(self, compiler: SQLCompiler, connection: Any, **extra: Any) -> tuple[str, list]:
        column, params = self._column(compiler, connection)
        return f"({column} -> %s)", [*params, self.key]

    def as_sqlite(self, compiler: SQLCompiler, connection: Any, **extra: Any) -> tuple[str, list]:
        column, params = self._column(compiler, connection)
        return f"json_extract({column}, %s)", [*params, _sqlite_path(self.key)]


class FieldIsOneOf(_ValuesExpression):
    """True when the field's value is one of ``values`` (ids); with ``multi``, when its list holds one."""

    output_field = BooleanField()
    conditional = True

    def __init__(self, key: str, values: list[int], *, multi: bool = False) -> None:
        super().__init__(key)
        if not values:
            raise ValueError("FieldIsOneOf needs at least one value.")
        self.values = [int(value) for value in values]
        self.multi = multi

    def as_postgresql(self, compiler: SQLCompiler, connection: Any, **extra: Any) -> tuple[str, list]:
        column, params = self._column(compiler, connection)
        parts, values = [], []
        for value in self.values:
            parts.append(f"{column} @> %s::jsonb")
            values += [*params, json.dumps({self.key: [value] if self.multi else value})]
        return "(" + " OR ".join(parts) + ")", values

    def as_sqlite(self, compiler: SQLCompiler, connection: Any, **extra: Any) -> tuple[str, list]:
        column, params = self._column(compiler, connection)
        marks = ", ".join(["%s"] * len(self.values))
        path = _sqlite_path(self.key)
        if self.multi:
            # Only the compiled column and placeholders are interpolated; values are parameters.
            sql = f"EXISTS (SELECT 1 FROM json_each({column}, %s) AS item WHERE item.value IN ({marks}))"  # noqa: S608
        else:
            # COALESCE: a missing value is "not one of them" (false), never NULL, so exclude() keeps it.
            sql = f"COALESCE(json_extract({column}, %s) IN ({marks}), 0)"
        return sql, [*params, path, *self.values]


class FieldBestRank(_ValuesExpression):
    """A multi-select field's best-placed chosen value: the smallest of ``ranks[option id]`` over its
    list (NULL when nothing is chosen), for sorting by the field's order as a select field sorts."""

    output_field = IntegerField()

    def __init__(self, key: str, ranks: dict[int, int]) -> None:
        super().__init__(key)
        if not ranks:
            raise ValueError("FieldBestRank needs the field's values.")
        self.ranks = {int(option): int(rank) for option, rank in ranks.items()}

    def _case(self, item: str, as_text: bool) -> tuple[str, list[Any]]:
        whens = " ".join(["WHEN %s THEN %s"] * len(self.ranks))
        params: list[Any] = []
        for option, rank in self.ranks.items():
            params += [str(option) if as_text else option, rank]
        return f"MIN(CASE {item} {whens} END)", params

    def as_postgresql(self, compiler: SQLCompiler, connection: Any, **extra: Any) -> tuple[str, list]:
        column, params = self._column(compiler, connection)
        case, case_params = self._case("item.value", as_text=True)
        # Only arrays are expanded: jsonb_array_elements_text raises on a scalar, whatever wrote it.
        values = f"CASE WHEN jsonb_typeof({column} -> %s) = 'array' THEN {column} -> %s ELSE '[]' END"
        sql = f"(SELECT {case} FROM jsonb_array_elements_text({values}) AS item(value))"  # noqa: S608
        return sql, [*case_params, *params, self.key, *params, self.key]

    def as_sqlite(self, compiler: SQLCompiler, connection: Any, **extra: Any) -> tuple[str, list]:
        column, params = self._column(compiler, connection)
        case, case_params = self._case("item.value", as_text=False)
        # json_each of a missing key has no rows (MIN is then NULL); of a scalar, one row: its value.
        sql = f"(SELECT {case} FROM json_each({column}, %s) AS item)"  # noqa: S608
        return sql, [*case_params, *params, _sqlite_path(self.key)]


class TextMatches(Func):
    """PostgreSQL full-text match of an indexed document expression against a ``to_tsquery`` string."""

    output_field = BooleanField()
    conditional = True

    def __init__(self, column: str | Expression, document_sql: str, tsquery: str) -> None:
        self.document_sql = document_sql
        self.tsquery = tsquery
        super().__init__(F(column) if isinstance(column, str) else column)

    def as_sql(self, compiler: SQLCompiler, connection: Any, **extra: Any) -> tuple[str, list]:
        column, params = compiler.compile(self.source_expressions[0])
        document = self.document_sql.format(column=column)
        return f"({document} @@ to_tsquery('simple'::regconfig, %s))", [*params, self.tsquery]
