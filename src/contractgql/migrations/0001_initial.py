from orjson import loads
from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from contractgql.domain.dates import PeriodUnit
from contractgql.domain.money import PaymentFrequency
from contractgql.models.contracts import ContractStage, Sensitivity
from contractgql.models.custom_fields import CustomFieldEntity, CustomFieldKind
from contractgql.models.tenancy import default_vat_rates


class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name="Organization",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("name", fields.CharField(max_length=200)),
                ("default_currency", fields.CharField(default="EUR", max_length=3)),
                (
                    "timezone",
                    fields.CharField(default="Europe/Amsterdam", max_length=64),
                ),
                (
                    "vat_rates",
                    fields.JSONField(
                        default=default_vat_rates, encoder=JSON_DUMPS, decoder=loads
                    ),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={"table": "organizations", "app": "models", "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="ContractType",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ("version", fields.IntField(default=1)),
                (
                    "archived_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                (
                    "organization",
                    fields.ForeignKeyField(
                        "models.Organization",
                        source_field="organization_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="contract_types",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("name", fields.CharField(max_length=100)),
                ("description", fields.TextField(null=True, unique=False)),
                (
                    "reminder_offsets",
                    fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads),
                ),
            ],
            options={
                "table": "contract_types",
                "app": "models",
                "unique_together": (("organization", "name"),),
                "pk_attr": "id",
                "table_description": "A managed contract type with its default reminder schedule.",
            },
            bases=["Record"],
        ),
        ops.CreateModel(
            name="CustomFieldDefinition",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ("version", fields.IntField(default=1)),
                (
                    "archived_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                (
                    "organization",
                    fields.ForeignKeyField(
                        "models.Organization",
                        source_field="organization_id",
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                (
                    "entity",
                    fields.CharEnumField(
                        description="CONTRACT: contract\nCLIENT: client\nPROJECT: project",
                        enum_type=CustomFieldEntity,
                        max_length=8,
                    ),
                ),
                ("key", fields.CharField(max_length=64)),
                ("label", fields.CharField(max_length=200)),
                (
                    "kind",
                    fields.CharEnumField(
                        description="TEXT: text\nNUMBER: number\nDATE: date\nBOOLEAN: boolean\nCHOICE: choice",
                        enum_type=CustomFieldKind,
                        max_length=7,
                    ),
                ),
                (
                    "choices",
                    fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads),
                ),
                ("required", fields.BooleanField(default=False)),
            ],
            options={
                "table": "custom_field_definitions",
                "app": "models",
                "unique_together": (("organization", "entity", "key"),),
                "pk_attr": "id",
            },
            bases=["Record"],
        ),
        ops.CreateModel(
            name="Service",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ("version", fields.IntField(default=1)),
                (
                    "archived_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                (
                    "organization",
                    fields.ForeignKeyField(
                        "models.Organization",
                        source_field="organization_id",
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("name", fields.CharField(max_length=200)),
                ("code", fields.CharField(null=True, max_length=50)),
                ("description", fields.TextField(null=True, unique=False)),
            ],
            options={
                "table": "services",
                "app": "models",
                "pk_attr": "id",
                "table_description": "A catalogue item such as maintenance, a licence, hosting or support hours.",
            },
            bases=["Record"],
        ),
        ops.CreateModel(
            name="Tag",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ("version", fields.IntField(default=1)),
                (
                    "archived_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                (
                    "organization",
                    fields.ForeignKeyField(
                        "models.Organization",
                        source_field="organization_id",
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("name", fields.CharField(max_length=100)),
                ("color", fields.CharField(default="#6b7280", max_length=7)),
            ],
            options={
                "table": "tags",
                "app": "models",
                "unique_together": (("organization", "name"),),
                "pk_attr": "id",
            },
            bases=["Record"],
        ),
        ops.CreateModel(
            name="User",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                (
                    "organization",
                    fields.ForeignKeyField(
                        "models.Organization",
                        source_field="organization_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="users",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("email", fields.CharField(unique=True, max_length=254)),
                ("name", fields.CharField(max_length=200)),
                ("password_hash", fields.CharField(null=True, max_length=200)),
                (
                    "roles",
                    fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads),
                ),
                ("is_active", fields.BooleanField(default=True)),
                ("is_service_account", fields.BooleanField(default=False)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
                (
                    "last_login_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
            ],
            options={
                "table": "users",
                "app": "models",
                "pk_attr": "id",
                "table_description": "A person or a service account. Login e-mail addresses are unique across tenants.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Client",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ("version", fields.IntField(default=1)),
                (
                    "archived_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                (
                    "organization",
                    fields.ForeignKeyField(
                        "models.Organization",
                        source_field="organization_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="clients",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("name", fields.CharField(max_length=300)),
                ("coc_number", fields.CharField(null=True, max_length=40)),
                ("vat_number", fields.CharField(null=True, max_length=40)),
                (
                    "addresses",
                    fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads),
                ),
                ("segment", fields.CharField(null=True, max_length=100)),
                (
                    "custom_fields",
                    fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads),
                ),
                (
                    "tags",
                    fields.ManyToManyField(
                        "models.Tag",
                        unique=True,
                        db_constraint=True,
                        through="client_tags",
                        forward_key="tag_id",
                        backward_key="clients_id",
                        related_name="clients",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "created_by",
                    fields.ForeignKeyField(
                        "models.User",
                        source_field="created_by_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                (
                    "updated_by",
                    fields.ForeignKeyField(
                        "models.User",
                        source_field="updated_by_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
            ],
            options={
                "table": "clients",
                "app": "models",
                "indexes": [Index(fields=["organization_id", "name"])],
                "pk_attr": "id",
            },
            bases=["Record"],
        ),
        ops.CreateModel(
            name="ContactPerson",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ("version", fields.IntField(default=1)),
                (
                    "archived_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                (
                    "organization",
                    fields.ForeignKeyField(
                        "models.Organization",
                        source_field="organization_id",
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                (
                    "client",
                    fields.ForeignKeyField(
                        "models.Client",
                        source_field="client_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="contacts",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("name", fields.CharField(max_length=200)),
                ("email", fields.CharField(null=True, max_length=254)),
                ("phone", fields.CharField(null=True, max_length=50)),
                ("job_title", fields.CharField(null=True, max_length=200)),
            ],
            options={"table": "contact_persons", "app": "models", "pk_attr": "id"},
            bases=["Record"],
        ),
        ops.CreateModel(
            name="Project",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ("version", fields.IntField(default=1)),
                (
                    "archived_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                (
                    "organization",
                    fields.ForeignKeyField(
                        "models.Organization",
                        source_field="organization_id",
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                (
                    "client",
                    fields.ForeignKeyField(
                        "models.Client",
                        source_field="client_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="projects",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("name", fields.CharField(max_length=300)),
                ("code", fields.CharField(null=True, max_length=50)),
                ("description", fields.TextField(null=True, unique=False)),
                (
                    "custom_fields",
                    fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads),
                ),
            ],
            options={"table": "projects", "app": "models", "pk_attr": "id"},
            bases=["Record"],
        ),
        ops.CreateModel(
            name="Contract",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ("version", fields.IntField(default=1)),
                (
                    "archived_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                (
                    "organization",
                    fields.ForeignKeyField(
                        "models.Organization",
                        source_field="organization_id",
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                (
                    "client",
                    fields.ForeignKeyField(
                        "models.Client",
                        source_field="client_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="contracts",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                (
                    "contract_type",
                    fields.ForeignKeyField(
                        "models.ContractType",
                        source_field="contract_type_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="contracts",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                (
                    "owner",
                    fields.ForeignKeyField(
                        "models.User",
                        source_field="owner_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="owned_contracts",
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                (
                    "contact",
                    fields.ForeignKeyField(
                        "models.ContactPerson",
                        source_field="contact_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="contracts",
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                (
                    "parent",
                    fields.ForeignKeyField(
                        "models.Contract",
                        source_field="parent_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="children",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("number", fields.CharField(null=True, max_length=100)),
                ("name", fields.CharField(max_length=300)),
                ("description", fields.TextField(null=True, unique=False)),
                (
                    "stage",
                    fields.CharEnumField(
                        default=ContractStage.SIGNED,
                        description="DRAFT: draft\nSIGNED: signed\nCANCELLED: cancelled",
                        enum_type=ContractStage,
                        max_length=9,
                    ),
                ),
                (
                    "sensitivity",
                    fields.CharEnumField(
                        default=Sensitivity.NORMAL,
                        description="NORMAL: normal\nCONFIDENTIAL: confidential",
                        enum_type=Sensitivity,
                        max_length=12,
                    ),
                ),
                ("start_date", fields.DateField()),
                ("end_date", fields.DateField(null=True)),
                ("signed_date", fields.DateField(null=True)),
                ("notice_deadline", fields.DateField(null=True)),
                (
                    "payment_frequency",
                    fields.CharEnumField(
                        default=PaymentFrequency.ONE_OFF,
                        description="MONTHLY: monthly\nQUARTERLY: quarterly\nHALF_YEARLY: half_yearly\nYEARLY: yearly\nONE_OFF: one_off",
                        enum_type=PaymentFrequency,
                        max_length=11,
                    ),
                ),
                ("amount_minor", fields.BigIntField(null=True)),
                ("currency", fields.CharField(max_length=3)),
                ("vat_rate_bp", fields.IntField(null=True)),
                ("indexation_bp", fields.IntField(null=True)),
                ("renewal_price_agreement", fields.TextField(null=True, unique=False)),
                ("auto_renewal", fields.BooleanField(default=False)),
                ("renewal_term_count", fields.IntField(null=True)),
                (
                    "renewal_term_unit",
                    fields.CharEnumField(
                        null=True,
                        description="DAYS: days\nWEEKS: weeks\nMONTHS: months",
                        enum_type=PeriodUnit,
                        max_length=6,
                    ),
                ),
                ("notice_count", fields.IntField(null=True)),
                (
                    "notice_unit",
                    fields.CharEnumField(
                        null=True,
                        description="DAYS: days\nWEEKS: weeks\nMONTHS: months",
                        enum_type=PeriodUnit,
                        max_length=6,
                    ),
                ),
                ("notice_to_month_end", fields.BooleanField(default=False)),
                (
                    "custom_fields",
                    fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads),
                ),
                (
                    "projects",
                    fields.ManyToManyField(
                        "models.Project",
                        unique=True,
                        db_constraint=True,
                        through="contract_projects",
                        forward_key="project_id",
                        backward_key="contracts_id",
                        related_name="contracts",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "services",
                    fields.ManyToManyField(
                        "models.Service",
                        unique=True,
                        db_constraint=True,
                        through="contract_services",
                        forward_key="service_id",
                        backward_key="contracts_id",
                        related_name="contracts",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "tags",
                    fields.ManyToManyField(
                        "models.Tag",
                        unique=True,
                        db_constraint=True,
                        through="contract_tags",
                        forward_key="tag_id",
                        backward_key="contracts_id",
                        related_name="contracts",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "created_by",
                    fields.ForeignKeyField(
                        "models.User",
                        source_field="created_by_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                (
                    "updated_by",
                    fields.ForeignKeyField(
                        "models.User",
                        source_field="updated_by_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
            ],
            options={
                "table": "contracts",
                "app": "models",
                "unique_together": (("organization", "number"),),
                "indexes": [
                    Index(fields=["organization_id", "end_date"]),
                    Index(fields=["organization_id", "notice_deadline"]),
                    Index(fields=["organization_id", "client_id"]),
                ],
                "pk_attr": "id",
            },
            bases=["Record"],
        ),
        ops.CreateModel(
            name="ContractWatcher",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                (
                    "contract",
                    fields.ForeignKeyField(
                        "models.Contract",
                        source_field="contract_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="watchers",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "user",
                    fields.ForeignKeyField(
                        "models.User",
                        source_field="user_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="watching",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
            ],
            options={
                "table": "contract_watchers",
                "app": "models",
                "unique_together": (("contract", "user"),),
                "pk_attr": "id",
                "table_description": "A user who follows a contract. Watchers may see it even when it is confidential.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Note",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ("version", fields.IntField(default=1)),
                (
                    "archived_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                (
                    "organization",
                    fields.ForeignKeyField(
                        "models.Organization",
                        source_field="organization_id",
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                (
                    "author",
                    fields.ForeignKeyField(
                        "models.User",
                        source_field="author_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                (
                    "contract",
                    fields.ForeignKeyField(
                        "models.Contract",
                        source_field="contract_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="notes",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                (
                    "client",
                    fields.ForeignKeyField(
                        "models.Client",
                        source_field="client_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="notes",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                (
                    "project",
                    fields.ForeignKeyField(
                        "models.Project",
                        source_field="project_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="notes",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("body", fields.TextField(unique=False)),
            ],
            options={"table": "notes", "app": "models", "pk_attr": "id"},
            bases=["Record"],
        ),
    ]
