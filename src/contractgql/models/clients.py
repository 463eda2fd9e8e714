"""Clients (the customer relations) and the contact persons who work there."""

from tortoise import fields

from contractgql.models.base import Record


class Client(Record):
    organization = fields.ForeignKeyField(
        "models.Organization", related_name="clients", on_delete=fields.RESTRICT
    )
    name = fields.CharField(max_length=300)
    # Chamber-of-commerce registration number (KvK in the Netherlands).
    coc_number = fields.CharField(max_length=40, null=True)
    vat_number = fields.CharField(max_length=40, null=True)
    # A list of {"kind", "street", "postalCode", "city", "country"} objects.
    addresses = fields.JSONField(default=list)
    segment = fields.CharField(max_length=100, null=True)
    custom_fields = fields.JSONField(default=dict)
    tags = fields.ManyToManyField(
        "models.Tag", related_name="clients", through="client_tags"
    )
    created_by = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    updated_by = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )

    class Meta:
        table = "clients"
        indexes = (("organization_id", "name"),)


class ContactPerson(Record):
    organization = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.RESTRICT
    )
    client = fields.ForeignKeyField(
        "models.Client", related_name="contacts", on_delete=fields.RESTRICT
    )
    name = fields.CharField(max_length=200)
    email = fields.CharField(max_length=254, null=True)
    phone = fields.CharField(max_length=50, null=True)
    job_title = fields.CharField(max_length=200, null=True)

    class Meta:
        table = "contact_persons"
