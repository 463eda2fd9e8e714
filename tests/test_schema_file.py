"""The checked-in schema.graphql and migrations must match the code."""

from pathlib import Path

from tortoise.migrations.autodetector import MigrationAutodetector

from contractgql.config import Settings
from contractgql.db import tortoise_config
from contractgql.graphql.sdl import schema_sdl

ROOT = Path(__file__).resolve().parents[1]


def test_schema_file_is_current() -> None:
    checked_in = (ROOT / "schema.graphql").read_text()

    generated = schema_sdl(ROOT / "policies")

    assert checked_in.strip() == generated.strip(), (
        "schema.graphql is stale: run `make schema` and commit the result."
    )


async def test_migrations_cover_models(settings: Settings) -> None:
    config = tortoise_config(settings)
    from tortoise.cli.cli import tortoise_cli_context

    apps = config["apps"]
    async with tortoise_cli_context(config) as context:
        writers = await MigrationAutodetector(context.apps, apps).changes()

    assert [writer.name for writer in writers] == [], (
        "The models changed without a migration: run `tortoise -c "
        "contractgql.db.TORTOISE_ORM makemigrations` and commit the new file."
    )
