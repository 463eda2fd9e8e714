"""The value mapping options of `contractgql import`."""

from __future__ import annotations

from pathlib import Path

from tests.test_cli import env, run

__all__ = ["env"]

REGISTER = (
    "number,name,client,start date,contract type,payment frequency\n"
    "X1,Hosting,Acme,2026-01-01,Onderhoud,maandelijks\n"
    "X2,Support,Acme,2026-01-01,onderhoud,Quarterly\n"
)


def _organization(env: dict[str, str]) -> None:
    created = run(
        env,
        "create-user",
        "--email",
        "a@example.com",
        "--name",
        "A",
        "--role",
        "admin",
        "--organization",
        "Acme",
    )
    assert created.returncode == 0, created.stderr


def test_preview_values_lists_mapping(env: dict[str, str], tmp_path: Path) -> None:
    _organization(env)
    register = tmp_path / "register.csv"
    register.write_text(REGISTER)

    preview = run(
        env, "import", str(register), "--organization", "Acme", "--preview-values"
    )
    mapped = run(
        env,
        "import",
        str(register),
        "--organization",
        "Acme",
        "--preview-values",
        "--create-types",
        "--map-value",
        "contract_type=ONDERHOUD=Maintenance",
    )

    assert preview.returncode == 1
    assert preview.stdout.splitlines() == [
        "contract_type: 'Onderhoud' (2 rows) -> (not mapped) [no such contract "
        "type; left empty]",
        "payment_frequency: 'maandelijks' (1 row) -> 'monthly' [recognised]",
        "payment_frequency: 'Quarterly' (1 row) -> 'quarterly' [recognised]",
        "3 distinct values, 1 not mapped.",
    ]
    assert mapped.returncode == 0
    assert mapped.stdout.splitlines()[0] == (
        "contract_type: 'Onderhoud' (2 rows) -> 'Maintenance' [explicit]"
    )


def test_map_value_without_target(env: dict[str, str], tmp_path: Path) -> None:
    register = tmp_path / "register.csv"
    register.write_text(REGISTER)

    result = run(
        env,
        "import",
        str(register),
        "--organization",
        "Acme",
        "--map-value",
        "contract_type=Onderhoud",
    )

    assert result.returncode == 2
    assert "--map-value 'contract_type=Onderhoud' is not FIELD=SOURCE=TARGET" in (
        result.stderr
    )
