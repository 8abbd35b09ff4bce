"""The migrated check constraints allow exactly the values of the code's enums."""

from __future__ import annotations

import re
from enum import StrEnum

import asyncpg
import pytest

from consumer.vocabulary import DeadLetterStatus, JobStatus, Stage


@pytest.mark.parametrize(
    ("constraint", "vocabulary"),
    [
        ("ck_backfill_jobs_status_known", JobStatus),
        ("ck_dead_letters_status_known", DeadLetterStatus),
        ("ck_dead_letters_stage_known", Stage),
    ],
)
async def test_a_check_constraint_allows_exactly_the_enums_values(
    clean_db: asyncpg.Pool, constraint: str, vocabulary: type[StrEnum]
) -> None:
    definition = await clean_db.fetchval(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = $1", constraint
    )
    assert definition is not None, f"no constraint {constraint}"
    allowed = set(re.findall(r"'([^']*)'::text", definition))
    assert allowed == {member.value for member in vocabulary}, definition
