"""Clients (the customer relations) and the contact persons who work there."""

from typing import TYPE_CHECKING, Any

from tortoise import fields

from contractgql.models.base import Record

if TYPE_CHECKING:
    from contractgql.models import Organization, Tag, User


class Client(Record):
    organization: fields.ForeignKeyRelation["Organization"] = fields.ForeignKeyField(
        "models.Organization", related_name="clients", on_delete=fields.RESTRICT
    )
    organization_id: int
    name = fields.CharField(max_length=300)
    # Chamber-of-commerce registration number (KvK in the Netherlands).
    coc_number = fields.CharField(max_length=40, null=True)
    vat_number = fields.CharField(max_length=40, null=True)
    # A list of {"kind", "street", "postalCode", "city", "country"} objects.
    addresses: fields.JSONField[list[dict[str, Any]]] = fields.JSONField(default=list)
    segment = fields.CharField(max_length=100, null=True)
    custom_fields: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    tags: fields.ManyToManyRelation["Tag"] = fields.ManyToManyField(
        "models.Tag", related_name="clients", through="client_tags"
    )
    created_by: fields.ForeignKeyNullableRelation["User"] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    created_by_id: int | None

    class Meta:
        table = "clients"
        indexes = (("organization_id", "name"),)


class ContactPerson(Record):
    organization: fields.ForeignKeyRelation["Organization"] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.RESTRICT
    )
    organization_id: int
    client: fields.ForeignKeyRelation["Client"] = fields.ForeignKeyField(
        "models.Client", related_name="contacts", on_delete=fields.RESTRICT
    )
    client_id: int
    name = fields.CharField(max_length=200)
    email = fields.CharField(max_length=254, null=True)
    phone = fields.CharField(max_length=50, null=True)
    job_title = fields.CharField(max_length=200, null=True)

    class Meta:
        table = "contact_persons"
