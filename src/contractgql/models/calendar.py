"""Secret calendar feed addresses of users."""

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from contractgql.models import Organization, User


class CalendarFeed(Model):
    """A secret iCalendar feed address of one user, stored as the SHA-256 of its secret."""  # noqa: E501

    id = fields.BigIntField(primary_key=True)
    organization: fields.ForeignKeyRelation["Organization"] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.CASCADE
    )
    organization_id: int
    user: fields.ForeignKeyRelation["User"] = fields.ForeignKeyField(
        "models.User", related_name="calendar_feeds", on_delete=fields.CASCADE
    )
    user_id: int
    # Hex SHA-256 of the secret in the feed's address. The secret is never stored.
    secret_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "calendar_feeds"
        indexes = (("user_id", "revoked_at"),)
