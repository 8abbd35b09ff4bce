"""``utxoiq schemas check``: every change from the released contract, named by its rule."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from schemas.compat import Rule, compare
from schemas.registry import REGISTRY
from tests.support.versions import METRIC_V2, REGISTRY_WITH_V2
from tests.unit.test_cli import utxoiq

REPO = Path(__file__).resolve().parents[2]
BASELINE = REPO / "schemas" / "baseline"
METRIC = "utxoiq.system.metric.recorded"
FEEDBACK = "utxoiq.insight.feedback.submitted"

Contract = dict[str, dict[str, Any]]


def data_of(contract: Contract, event_type: str) -> dict[str, Any]:
    schema = contract[event_type]
    name = schema["properties"]["data"]["$ref"].rsplit("/", 1)[-1]
    definition: dict[str, Any] = schema["$defs"][name]
    return definition


def add_field(required: bool) -> Callable[[Contract], None]:
    def change(contract: Contract) -> None:
        data = data_of(contract, METRIC)
        data["properties"]["region"] = {"type": "string", "maxLength": 64}
        if required:
            data["required"].append("region")

    return change


def remove_unit(contract: Contract) -> None:
    data = data_of(contract, METRIC)
    del data["properties"]["unit"]
    data["required"].remove("unit")


def rename_unit(contract: Contract) -> None:
    data = data_of(contract, METRIC)
    data["properties"]["units"] = data["properties"].pop("unit")
    data["required"] = [("units" if n == "unit" else n) for n in data["required"]]


def unit_optional(contract: Contract) -> None:
    data_of(contract, METRIC)["required"].remove("unit")


def datacontenttype_required(contract: Contract) -> None:
    contract[METRIC]["required"].append("datacontenttype")


def rating(key: str, value: Any) -> Callable[[Contract], None]:
    def change(contract: Contract) -> None:
        data_of(contract, FEEDBACK)["properties"]["rating"][key] = value

    return change


def comment_not_null(contract: Contract) -> None:
    properties = data_of(contract, FEEDBACK)["properties"]
    properties["comment"] = properties["comment"]["anyOf"][0]


def id_format(contract: Contract) -> None:
    contract[METRIC]["properties"]["id"]["format"] = "uri"


def flags(values: list[str]) -> Callable[[Contract], None]:
    def change(contract: Contract) -> None:
        data_of(contract, FEEDBACK)["properties"]["flags"]["items"]["enum"] = values

    return change


def close_data(contract: Contract) -> None:
    data_of(contract, METRIC)["additionalProperties"] = False


def add_v2(contract: Contract) -> None:
    contract[METRIC_V2] = REGISTRY_WITH_V2.json_schemas()[METRIC_V2]


def remove_metric(contract: Contract) -> None:
    del contract[METRIC]


def rename_metric(contract: Contract) -> None:
    schema = contract.pop(METRIC)
    schema["properties"]["type"]["const"] = "utxoiq.system.metric.sampled"
    contract["utxoiq.system.metric.sampled"] = schema


FLAGS = ["inaccurate", "misleading", "outdated", "spam", "offensive", "other"]

EXAMPLES: list[tuple[Rule, Callable[[Contract], None], str, str]] = [
    (Rule.FIELD_ADDED_OPTIONAL, add_field(required=False), METRIC, "data.region"),
    (Rule.FIELD_ADDED_REQUIRED, add_field(required=True), METRIC, "data.region"),
    (Rule.FIELD_REMOVED, remove_unit, METRIC, "data.unit"),
    (Rule.FIELD_RENAMED, rename_unit, METRIC, "data.unit"),
    (Rule.FIELD_MADE_OPTIONAL, unit_optional, METRIC, "data.unit"),
    (Rule.FIELD_MADE_REQUIRED, datacontenttype_required, METRIC, "datacontenttype"),
    (Rule.TYPE_NARROWED, comment_not_null, FEEDBACK, "data.comment"),
    (Rule.TYPE_WIDENED, rating("type", "number"), FEEDBACK, "data.rating"),
    (Rule.TYPE_CHANGED, rating("type", "string"), FEEDBACK, "data.rating"),
    (Rule.RANGE_NARROWED, rating("maximum", 4), FEEDBACK, "data.rating"),
    (Rule.RANGE_WIDENED, rating("maximum", 10), FEEDBACK, "data.rating"),
    (Rule.RANGE_CHANGED, id_format, METRIC, "id"),
    (Rule.ENUM_VALUE_ADDED, flags([*FLAGS, "duplicate"]), FEEDBACK, "data.flags[]"),
    (Rule.ENUM_VALUE_REMOVED, flags(FLAGS[:-1]), FEEDBACK, "data.flags[]"),
    (Rule.UNKNOWN_FIELDS_REFUSED, close_data, METRIC, "data"),
    (Rule.EVENT_TYPE_ADDED, add_v2, METRIC_V2, ""),
    (Rule.EVENT_TYPE_REMOVED, remove_metric, METRIC, ""),
    (Rule.EVENT_TYPE_RENAMED, rename_metric, METRIC, ""),
]


def released() -> Contract:
    return REGISTRY.json_schemas()


@pytest.mark.parametrize(
    ("rule", "change", "event_type", "path"), EXAMPLES, ids=[e[0].name for e in EXAMPLES]
)
def test_each_rule_is_named_and_judged(
    rule: Rule, change: Callable[[Contract], None], event_type: str, path: str
) -> None:
    current = released()
    change(current)
    changes = compare(released(), current)
    assert [(c.rule, c.event_type, c.path) for c in changes] == [(rule, event_type, path)]
    assert changes[0].passes is (rule is Rule.FIELD_ADDED_OPTIONAL)


def test_refusing_unknown_fields_no_more_passes() -> None:
    baseline = released()
    close_data(baseline)
    (change,) = compare(baseline, released())
    assert (change.rule, change.path, change.passes) == (Rule.UNKNOWN_FIELDS_ALLOWED, "data", True)


def test_documentation_is_not_a_change() -> None:
    current = released()
    data_of(current, FEEDBACK)["properties"]["rating"]["description"] = "Stars, 1 to 5."
    current[METRIC]["title"] = "A metric sample"
    assert compare(released(), current) == []


def test_each_change_says_what_moved() -> None:
    current = released()
    rating("maximum", 4)(current)
    flags([*FLAGS, "duplicate"])(current)
    rename_unit(current)
    lines = sorted(str(c) for c in compare(released(), current))
    assert lines == [
        f"FAIL {FEEDBACK} data.flags[]: enumeration value added: 'duplicate'",
        f"FAIL {FEEDBACK} data.rating: range narrowed: maximum 5 -> 4",
        f"FAIL {METRIC} data.unit: field renamed: now data.units",
    ]


def test_the_released_baseline_is_the_contract_of_this_code() -> None:
    assert compare(released(), released()) == []
    assert sorted(p.name for p in BASELINE.glob("*.schema.json")) == sorted(
        f"{t}.schema.json" for t in REGISTRY.types
    )


def test_check_passes_against_the_released_baseline() -> None:
    result = utxoiq("schemas", "check", "--baseline", str(BASELINE))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("(0 change(s))")


def test_check_fails_naming_each_incompatible_change(tmp_path: Path) -> None:
    baseline = tmp_path / "baseline"
    shutil.copytree(BASELINE, baseline)
    path = baseline / f"{METRIC}.schema.json"
    schema = copy.deepcopy(released()[METRIC])
    data = data_of({METRIC: schema}, METRIC)
    data["properties"]["unit"]["maxLength"] = 16
    path.write_text(json.dumps(schema))
    result = utxoiq("schemas", "check", "--baseline", str(baseline))
    assert result.returncode == 1
    assert result.stdout == f"FAIL {METRIC} data.unit: range widened: maxLength 16 -> 1024\n"
    assert result.stderr == (
        f"utxoiq: error: 1 incompatible change(s) from the baseline in {baseline}\n"
    )


@pytest.mark.parametrize("case", ["missing", "a file", "empty", "not json", "not a schema"])
def test_an_unreadable_baseline_is_one_line_and_exit_2(tmp_path: Path, case: str) -> None:
    target = tmp_path / "baseline"
    if case == "a file":
        target.write_text("x")
    elif case != "missing":
        target.mkdir()
    if case == "not json":
        (target / f"{METRIC}.schema.json").write_text("{")
    if case == "not a schema":
        (target / f"{METRIC}.schema.json").write_text('{"properties": {"data": {"$ref": "#/x"}}}')
    result = utxoiq("schemas", "check", "--baseline", str(target))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and str(target) in result.stderr
    assert "Traceback" not in result.stderr
