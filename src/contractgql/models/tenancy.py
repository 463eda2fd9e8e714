"""Organizations (tenants) and their users."""

from tortoise import fields
from tortoise.models import Model


def default_vat_rates() -> list[int]:
    """Return the Dutch VAT rates in basis points: 21%, 9% and 0%."""
    return [2100, 900, 0]


class Organization(Model):
    id = fields.BigIntField(primary_key=True)
    name = fields.CharField(max_length=200)
    default_currency = fields.CharField(max_length=3, default="EUR")
    timezone = fields.CharField(max_length=64, default="Europe/Amsterdam")
    # VAT rates in basis points (2100 is 21%), the choices offered for new contracts.
    vat_rates: fields.JSONField[list[int]] = fields.JSONField(default=default_vat_rates)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "organizations"


class User(Model):
    """A person or a service account. Login e-mail addresses are unique across tenants."""  # noqa: E501

    id = fields.BigIntField(primary_key=True)
    organization: fields.ForeignKeyRelation["Organization"] = fields.ForeignKeyField(
        "models.Organization", related_name="users", on_delete=fields.RESTRICT
    )
    organization_id: int
    email = fields.CharField(max_length=254, unique=True)
    name = fields.CharField(max_length=200)
    password_hash = fields.CharField(max_length=200, null=True)
    roles: fields.JSONField[list[str]] = fields.JSONField(default=list)
    is_active = fields.BooleanField(default=True)
    is_service_account = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    # The administrator who created or last changed the user through the API. It
    # is null for users from `contractgql create-user` and the demo data, for
    # users unchanged since the column was added, and after that administrator is
    # deleted.
    updated_by: fields.ForeignKeyNullableRelation["User"] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    updated_by_id: int | None
    # Each change of the roles or the active flag increments it. Logins leave it
    # as it is.
    version = fields.IntField(default=1, db_default=1)
    last_login_at = fields.DatetimeField(null=True)
    # Login tokens carry the generation they were issued in. Deactivation increments
    # it, so tokens from before stay invalid after a reactivation.
    token_generation = fields.IntField(default=0, db_default=0)

    class Meta:
        table = "users"
