"""What the settings of Kafka (``consumer.kafka_settings``) and PostgreSQL
(``consumer.database_settings``) share: how they are read from the environment, and the
check that a file setting names a file.

``KAFKA_BOOTSTRAP_SERVERS`` and ``DATABASE_URL`` keep their conventional names; the
other variables have the ``UTXOIQ_`` prefix. Secrets are ``SecretStr`` and never printed.
``consumer.settings`` gathers these with the service's own settings.
"""

from __future__ import annotations

from pathlib import Path

COMMON_CONFIG = {
    "env_file": None,
    "env_ignore_empty": True,
    "extra": "ignore",
    "case_sensitive": False,
    "populate_by_name": True,
}


def existing_file(value: str | None) -> str | None:
    if value is not None and not Path(value).is_file():
        if Path(value).is_dir():
            raise ValueError(f"a folder, not a file: {value}")
        raise ValueError(f"no such file: {value}")
    return value
