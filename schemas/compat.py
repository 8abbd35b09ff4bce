"""Is a new contract compatible with a released one? Every change, named by its rule.

A change passes only if old consumers accept every event that new producers emit, and
new consumers accept every event that old producers emit. Consumers read tolerantly
(unknown fields are ignored), so a new optional field passes; every other change to
what a field accepts fails, whichever way it goes: a type or range narrowed refuses
old producers' events, widened lets new producers emit what old consumers refuse. A
change old consumers cannot read gets a new event type, and a type added or removed
fails too until the baseline is deliberately moved (once every consumer knows it).

``compare`` is pure: it takes the two contracts as {event type: JSON Schema}.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from schemas.schema_fields import (
    LOWER_BOUNDS,
    UPPER_BOUNDS,
    FieldSpec,
    UnreadableSchema,
    flatten,
)


class Rule(StrEnum):
    """Each kind of change the check recognises."""

    FIELD_ADDED_OPTIONAL = "field added, optional"
    """Old consumers ignore it; new consumers do without it from old producers."""
    FIELD_ADDED_REQUIRED = "field added, required"
    """Old producers do not send it: new consumers refuse their events."""
    FIELD_REMOVED = "field removed"
    """Old consumers require it (or a constraint of theirs goes unchecked)."""
    FIELD_RENAMED = "field renamed"
    """A field removed and one of the same shape added: both of the above."""
    FIELD_MADE_REQUIRED = "field made required"
    """Old producers may omit it."""
    FIELD_MADE_OPTIONAL = "field made optional"
    """New producers may omit what old consumers require."""
    TYPE_NARROWED = "type narrowed"
    """Values of a JSON type old producers send are refused."""
    TYPE_WIDENED = "type widened"
    """New producers may send values of a JSON type old consumers refuse."""
    TYPE_CHANGED = "type changed"
    """Neither of the two: some values are refused each way."""
    RANGE_NARROWED = "range narrowed"
    """A bound tightened or added (minimum, maxLength, pattern...)."""
    RANGE_WIDENED = "range widened"
    """A bound loosened or dropped."""
    RANGE_CHANGED = "range changed"
    """A bound that is neither tighter nor looser (a pattern or format replaced)."""
    ENUM_VALUE_ADDED = "enumeration value added"
    """New producers may send a value old consumers refuse."""
    ENUM_VALUE_REMOVED = "enumeration value removed"
    """Old producers may send a value new consumers refuse."""
    UNKNOWN_FIELDS_REFUSED = "unknown fields refused"
    """An object that ignored unknown fields now refuses them."""
    UNKNOWN_FIELDS_ALLOWED = "unknown fields allowed"
    """An object that refused unknown fields now ignores them."""
    EVENT_TYPE_ADDED = "event type added"
    """Old consumers do not know it; move the baseline once every consumer does."""
    EVENT_TYPE_REMOVED = "event type removed"
    """Old producers still emit it; new consumers refuse it."""
    EVENT_TYPE_RENAMED = "event type renamed"
    """A type removed and one of the same shape added."""

    @property
    def passes(self) -> bool:
        return self in _PASSING


_PASSING = frozenset({Rule.FIELD_ADDED_OPTIONAL, Rule.UNKNOWN_FIELDS_ALLOWED})


@dataclass(frozen=True, slots=True)
class Change:
    """One difference between the baseline and the current contract."""

    event_type: str
    path: str
    rule: Rule
    detail: str = ""

    @property
    def passes(self) -> bool:
        return self.rule.passes

    def __str__(self) -> str:
        verdict = "ok  " if self.passes else "FAIL"
        where = f"{self.event_type} {self.path}" if self.path else self.event_type
        detail = f": {self.detail}" if self.detail else ""
        return f"{verdict} {where}: {self.rule.value}{detail}"


def compare(
    baseline: Mapping[str, Mapping[str, Any]], current: Mapping[str, Mapping[str, Any]]
) -> list[Change]:
    """Every change from ``baseline`` to ``current`` (both {event type: JSON Schema});
    ``UnreadableSchema`` names a type whose schema is not shaped like an exported one."""
    old = {name: _flattened(name, schema) for name, schema in baseline.items()}
    new = {name: _flattened(name, schema) for name, schema in current.items()}
    changes = list(_type_changes(old, new))
    for name in sorted(old.keys() & new.keys()):
        changes += compare_fields(name, old[name], new[name])
    return changes


def _flattened(event_type: str, schema: Mapping[str, Any]) -> dict[str, FieldSpec]:
    try:
        return flatten(schema)
    except UnreadableSchema as exc:
        raise UnreadableSchema(f"the schema of {event_type} cannot be read ({exc})") from exc


def _type_changes(
    old: Mapping[str, dict[str, FieldSpec]], new: Mapping[str, dict[str, FieldSpec]]
) -> Iterator[Change]:
    removed = sorted(old.keys() - new.keys())
    added = sorted(new.keys() - old.keys())
    for gone in removed:
        twin = next((a for a in added if _same_shape(old[gone], new[a], skip="type")), None)
        if twin is None:
            yield Change(gone, "", Rule.EVENT_TYPE_REMOVED)
        else:
            added.remove(twin)
            yield Change(gone, "", Rule.EVENT_TYPE_RENAMED, f"now {twin}")
    for name in added:
        yield Change(name, "", Rule.EVENT_TYPE_ADDED)


def _same_shape(a: Mapping[str, FieldSpec], b: Mapping[str, FieldSpec], skip: str) -> bool:
    keep = {p for p in a.keys() | b.keys() if p != skip}
    return all(p in a and p in b and a[p] == b[p] for p in keep)


def compare_fields(
    event_type: str, old: Mapping[str, FieldSpec], new: Mapping[str, FieldSpec]
) -> list[Change]:
    """The changes of one event type's fields (paths as ``flatten`` names them)."""
    removed = [p for p in old if p not in new and _parent(p) in new]
    added = [p for p in new if p not in old and _parent(p) in old]
    changes = []
    for gone in removed:
        twin = next(
            (
                a
                for a in added
                if _parent(a) == _parent(gone) and new[a].shape() == old[gone].shape()
            ),
            None,
        )
        if twin is None:
            changes.append(Change(event_type, gone, Rule.FIELD_REMOVED))
        else:
            added.remove(twin)
            changes.append(Change(event_type, gone, Rule.FIELD_RENAMED, f"now {twin}"))
    for path in added:
        rule = Rule.FIELD_ADDED_REQUIRED if new[path].required else Rule.FIELD_ADDED_OPTIONAL
        changes.append(Change(event_type, path, rule))
    for path in [p for p in old if p in new]:
        changes += [Change(event_type, path, r, d) for r, d in field_changes(old[path], new[path])]
    return changes


def _parent(path: str) -> str:
    if path.endswith("[]"):
        return path[:-2]
    return path.rpartition(".")[0]


def field_changes(old: FieldSpec, new: FieldSpec) -> list[tuple[Rule, str]]:
    """(rule, detail) for each way one field's acceptance changed."""
    changes: list[tuple[Rule, str]] = []
    if old.required != new.required:
        changes.append((Rule.FIELD_MADE_REQUIRED if new.required else Rule.FIELD_MADE_OPTIONAL, ""))
    if old.types != new.types:
        rule = _set_rule(_with_integers(old.types), _with_integers(new.types), TYPE_RULES)
        changes.append((rule, _shown(old.types, new.types)))
    changes += _value_changes(old.values, new.values)
    changes += _bound_changes(old, new)
    if old.closed != new.closed:
        changes.append(
            (Rule.UNKNOWN_FIELDS_REFUSED if new.closed else Rule.UNKNOWN_FIELDS_ALLOWED, "")
        )
    return changes


TYPE_RULES = (Rule.TYPE_NARROWED, Rule.TYPE_WIDENED, Rule.TYPE_CHANGED)


def _set_rule(old: frozenset[Any], new: frozenset[Any], rules: tuple[Rule, Rule, Rule]) -> Rule:
    narrowed, widened, changed = rules
    if new < old:
        return narrowed
    if new > old:
        return widened
    return changed


def _with_integers(types: frozenset[str]) -> frozenset[str]:
    """A JSON ``number`` accepts integers too."""
    return types | {"integer"} if "number" in types else types


def _shown(old: frozenset[Any], new: frozenset[Any]) -> str:
    return f"{sorted(map(str, old))} -> {sorted(map(str, new))}"


def _value_changes(
    old: frozenset[Any] | None, new: frozenset[Any] | None
) -> list[tuple[Rule, str]]:
    if old == new:
        return []
    if old is None:
        return [(Rule.TYPE_NARROWED, f"now only {sorted(map(str, new or ()))}")]
    if new is None:
        return [(Rule.TYPE_WIDENED, f"no longer only {sorted(map(str, old))}")]
    changes = []
    if new - old:
        changes.append((Rule.ENUM_VALUE_ADDED, ", ".join(sorted(map(repr, new - old)))))
    if old - new:
        changes.append((Rule.ENUM_VALUE_REMOVED, ", ".join(sorted(map(repr, old - new)))))
    return changes


def _bound_changes(old: FieldSpec, new: FieldSpec) -> list[tuple[Rule, str]]:
    changes = []
    for keyword in sorted({k for k, _ in old.bounds} | {k for k, _ in new.bounds}):
        before, after = old.bound(keyword), new.bound(keyword)
        if before != after:
            rule = _bound_rule(keyword, before, after)
            changes.append((rule, f"{keyword} {_bound(before)} -> {_bound(after)}"))
    return changes


def _bound_rule(keyword: str, before: Any, after: Any) -> Rule:
    if before is None:
        return Rule.RANGE_NARROWED
    if after is None:
        return Rule.RANGE_WIDENED
    if keyword in LOWER_BOUNDS:
        return Rule.RANGE_NARROWED if after > before else Rule.RANGE_WIDENED
    if keyword in UPPER_BOUNDS:
        return Rule.RANGE_NARROWED if after < before else Rule.RANGE_WIDENED
    if keyword == "uniqueItems":
        return Rule.RANGE_NARROWED if after else Rule.RANGE_WIDENED
    return Rule.RANGE_CHANGED


def _bound(value: Any) -> str:
    return "none" if value is None else repr(value)
