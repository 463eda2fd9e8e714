"""The root Query type."""

from __future__ import annotations

from datetime import date
from typing import Any

import strawberry

from contractgql.errors import InvalidArgument
from contractgql.graphql.context import Info
from contractgql.graphql.inputs import decode_typed_id
from contractgql.graphql.loaders import _fetch_by_id
from contractgql.graphql.queries.contracts import contracts_connection
from contractgql.graphql.queries.hours import hours_node
from contractgql.graphql.queries.imports import ImportQueries
from contractgql.graphql.queries.notifications import (
    notification_by_id,
    notifications_connection,
)
from contractgql.graphql.queries.quality import QualityQueries
from contractgql.graphql.queries.records import records_connection
from contractgql.graphql.queries.reports import ReportQuery
from contractgql.graphql.queries.tokens import (
    api_token_by_id,
    api_tokens_connection,
)
from contractgql.graphql.relay import Connection, Node, SortKey
from contractgql.graphql.types.catalog import (
    CONTRACT_TYPE_COLUMNS,
    PROJECT_COLUMNS,
    SERVICE_COLUMNS,
    TAG_COLUMNS,
    ContractTypeNode,
    ProjectNode,
    ServiceNode,
    TagNode,
    contract_type_node,
    project_node,
    service_node,
    tag_node,
)
from contractgql.graphql.types.clients import (
    CLIENT_COLUMNS,
    CONTACT_COLUMNS,
    ClientNode,
    ContactPersonNode,
    client_node,
    contact_node,
)
from contractgql.graphql.types.common import CustomFieldEntityEnum
from contractgql.graphql.types.documents import (
    DocumentTemplateNode,
    document_by_id,
    template_by_id,
    template_node,
)
from contractgql.graphql.types.filters import ContractFilter, ContractOrder
from contractgql.graphql.types.imports import import_job_by_id
from contractgql.graphql.types.notes import (
    CUSTOM_FIELD_COLUMNS,
    NOTE_COLUMNS,
    CustomFieldDefinitionNode,
    custom_field_node,
    note_node,
)
from contractgql.graphql.types.notifications import NotificationNode
from contractgql.graphql.types.quality import RULE_COLUMNS, rule_node
from contractgql.graphql.types.tokens import ApiTokenNode
from contractgql.graphql.types.totals import ContractConnection
from contractgql.graphql.types.users import USER_COLUMNS, UserNode, user_node
from contractgql.graphql.types.workflow import (
    ReminderFilter,
    ReminderNode,
    TaskFilter,
    TaskNode,
    reminders_connection,
    tasks_connection,
    workflow_node,
)
from contractgql.ids import decode_id
from contractgql.importexport.jobs import IMPORT_PERMISSION
from contractgql.models import (
    Client,
    ContactPerson,
    ContractType,
    CustomFieldDefinition,
    DocumentTemplate,
    Note,
    Project,
    RequiredFieldRule,
    Service,
    Tag,
    User,
)
from contractgql.notifications.store import unread_count
from contractgql.quality.choices import format_rate
from contractgql.security.records import visible_contracts
from contractgql.security.viewer import Viewer

_NODE_SOURCES = {
    "Client": (Client, CLIENT_COLUMNS, client_node),
    "ContactPerson": (ContactPerson, CONTACT_COLUMNS, contact_node),
    "ContractType": (ContractType, CONTRACT_TYPE_COLUMNS, contract_type_node),
    "Project": (Project, PROJECT_COLUMNS, project_node),
    "Service": (Service, SERVICE_COLUMNS, service_node),
    "Tag": (Tag, TAG_COLUMNS, tag_node),
    "User": (User, USER_COLUMNS, user_node),
    "Note": (Note, NOTE_COLUMNS, note_node),
    "CustomFieldDefinition": (
        CustomFieldDefinition,
        CUSTOM_FIELD_COLUMNS,
        custom_field_node,
    ),
    "RequiredFieldRule": (RequiredFieldRule, RULE_COLUMNS, rule_node),
}


@strawberry.type(name="Organization")
class OrganizationType:
    name: str
    timezone: str = strawberry.field(
        description="IANA timezone, such as Europe/Amsterdam."
    )
    default_currency: str
    today: date = strawberry.field(
        description="Today's date in the organization's timezone."
    )
    vat_rates: list[str] = strawberry.field(
        description="The VAT rates in percent, such as '21', that contracts may "
        "use, highest first. Change them with setVatRates."
    )


@strawberry.type(
    description="A field that the policy protects, and whether the viewer may read "
    "and set it. Other fields have no such restriction."
)
class FieldAccess:
    type_name: str
    field_name: str
    permission: str = strawberry.field(
        description="The permission name; reading needs ':read', setting ':write'."
    )
    readable: bool
    writable: bool


@strawberry.type(
    name="Viewer", description="The logged-in caller and what they may do."
)
class ViewerType:
    user: UserNode
    organization: OrganizationType
    roles: list[str]
    permissions: list[str] = strawberry.field(
        description="Permissions granted by the viewer's roles, as 'name:action'."
    )
    protected_fields: list[FieldAccess]


@strawberry.type
class Query(ImportQueries, ReportQuery, QualityQueries):
    @strawberry.field(
        description="The logged-in caller, their organization and rights."
    )
    async def viewer(self, info: Info) -> ViewerType:
        viewer = info.context.viewer
        assert viewer.user_id is not None, "GraphQL callers are always users"
        user = await info.context.loaders.user(viewer.user_id)
        organization = await _organization(viewer.organization_id)
        return ViewerType(
            user=user,
            organization=OrganizationType(
                name=organization["name"],
                timezone=organization["timezone"],
                default_currency=organization["default_currency"],
                today=viewer.today,
                vat_rates=[
                    format_rate(rate)
                    for rate in sorted(organization["vat_rates"], reverse=True)
                ],
            ),
            roles=sorted(viewer.roles),
            permissions=sorted(viewer.permissions),
            protected_fields=[
                FieldAccess(
                    type_name=type_name,
                    field_name=field_name,
                    permission=permission,
                    readable=viewer.fields.may_read(type_name, field_name),
                    writable=viewer.fields.may_write(type_name, field_name),
                )
                for (type_name, field_name), permission in sorted(
                    viewer.fields.protected.items()
                )
            ],
        )

    @strawberry.field(
        description="Fetch any record by its global id; null if not found."
    )
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        viewer = info.context.viewer
        try:
            type_name, pk = decode_id(id)
        except InvalidArgument:
            return None
        if type_name == "Contract":
            node: Node | None = await info.context.loaders.contract(pk)
            return node
        if type_name == "Note" and not await _note_visible(viewer, pk):
            return None
        if type_name == "ApiToken":
            return await api_token_by_id(viewer, pk)
        if type_name in ("Task", "Reminder"):
            return await workflow_node(viewer, type_name, pk)
        if type_name == "Notification":
            return await notification_by_id(viewer, pk)
        if type_name in ("Document", "DocumentVersion"):
            return await document_by_id(viewer, type_name, pk)
        if type_name == "DocumentTemplate":
            return await template_by_id(viewer, pk)
        if type_name == "ImportJob":
            if not viewer.may(IMPORT_PERMISSION):
                return None
            return await import_job_by_id(viewer, info.context.services.settings, pk)
        if type_name in ("TimeEntry", "ContractCap"):
            return await hours_node(viewer, type_name, pk)
        source = _NODE_SOURCES.get(type_name)
        if source is None:
            return None
        model, columns, build = source
        found = await _fetch_by_id(model, viewer.organization_id, [pk], columns, build)
        return found.get(pk)

    @strawberry.field(description="Contracts the caller may see, filtered and sorted.")
    async def contracts(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: ContractFilter | None = None,
        order_by: ContractOrder | None = None,
    ) -> ContractConnection:
        return await contracts_connection(info, first, after, filter, order_by)

    @strawberry.field(
        description="Renewal workflow tasks on the contracts the caller may see, by "
        "due date."
    )
    async def tasks(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: TaskFilter | None = None,
    ) -> Connection[TaskNode]:
        return await tasks_connection(info, first, after, filter)

    @strawberry.field(
        description="Reminders on the contracts the caller may see, by due date."
    )
    async def reminders(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: ReminderFilter | None = None,
    ) -> Connection[ReminderNode]:
        return await reminders_connection(info, first, after, filter)

    @strawberry.field(description="Clients, by name.")
    async def clients(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        search: str | None = None,
        include_archived: bool = False,
    ) -> Connection[ClientNode]:
        return await records_connection(
            info,
            Client,
            CLIENT_COLUMNS,
            client_node,
            first=first,
            after=after,
            search=search,
            include_archived=include_archived,
        )

    @strawberry.field(description="Contact persons, by name.")
    async def contacts(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        client_id: strawberry.ID | None = None,
        search: str | None = None,
        include_archived: bool = False,
    ) -> Connection[ContactPersonNode]:
        filters = _client_filter(client_id)
        return await records_connection(
            info,
            ContactPerson,
            CONTACT_COLUMNS,
            contact_node,
            first=first,
            after=after,
            search=search,
            include_archived=include_archived,
            filters=filters,
        )

    @strawberry.field(description="Projects, by name.")
    async def projects(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        client_id: strawberry.ID | None = None,
        search: str | None = None,
        include_archived: bool = False,
    ) -> Connection[ProjectNode]:
        return await records_connection(
            info,
            Project,
            PROJECT_COLUMNS,
            project_node,
            first=first,
            after=after,
            search=search,
            include_archived=include_archived,
            filters=_client_filter(client_id),
        )

    @strawberry.field(description="Services in the catalogue, by name.")
    async def services(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        search: str | None = None,
        include_archived: bool = False,
    ) -> Connection[ServiceNode]:
        return await records_connection(
            info,
            Service,
            SERVICE_COLUMNS,
            service_node,
            first=first,
            after=after,
            search=search,
            include_archived=include_archived,
        )

    @strawberry.field(description="Tags, by name.")
    async def tags(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        search: str | None = None,
        include_archived: bool = False,
    ) -> Connection[TagNode]:
        return await records_connection(
            info,
            Tag,
            TAG_COLUMNS,
            tag_node,
            first=first,
            after=after,
            search=search,
            include_archived=include_archived,
        )

    @strawberry.field(
        description="The organization's document templates, by name. The "
        "README lists the placeholders that templates may use."
    )
    async def document_templates(self, info: Info) -> list[DocumentTemplateNode]:
        templates = await DocumentTemplate.filter(
            organization_id=info.context.viewer.organization_id
        ).order_by("name", "id")
        return [template_node(template) for template in templates]

    @strawberry.field(description="Contract types, by name.")
    async def contract_types(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        include_archived: bool = False,
    ) -> Connection[ContractTypeNode]:
        return await records_connection(
            info,
            ContractType,
            CONTRACT_TYPE_COLUMNS,
            contract_type_node,
            first=first,
            after=after,
            include_archived=include_archived,
        )

    @strawberry.field(description="Custom field definitions, by label.")
    async def custom_field_definitions(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        entity: CustomFieldEntityEnum | None = None,  # type: ignore[valid-type]
        include_archived: bool = False,
    ) -> Connection[CustomFieldDefinitionNode]:
        return await records_connection(
            info,
            CustomFieldDefinition,
            CUSTOM_FIELD_COLUMNS,
            custom_field_node,
            first=first,
            after=after,
            include_archived=include_archived,
            filters={"entity": entity} if entity else None,
            order=SortKey("label", "label", case_insensitive=True),
        )

    @strawberry.field(description="Users of the organization, by name.")
    async def users(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[UserNode]:
        viewer = info.context.viewer
        from contractgql.graphql.relay import paginate

        scope = User.filter(organization_id=viewer.organization_id)

        async def build(rows: list[dict[str, object]]) -> list[UserNode]:
            return [user_node(row) for row in rows]

        return await paginate(
            scope,
            scope,
            key=SortKey("name", "name", case_insensitive=True),
            descending=False,
            first=first,
            after=after,
            max_page_size=info.context.services.settings.max_page_size,
            columns=USER_COLUMNS,
            build=build,
        )

    @strawberry.field(
        description="API tokens of the organization's service accounts, by name. "
        "Needs 'user:manage'. The secret of a token is never shown here."
    )
    async def api_tokens(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        user_id: strawberry.ID | None = None,
        include_revoked: bool = False,
    ) -> Connection[ApiTokenNode]:
        return await api_tokens_connection(info, first, after, user_id, include_revoked)

    @strawberry.field(
        description="Your own notifications, newest first. Nobody else's are "
        "visible, whatever their roles."
    )
    async def notifications(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        unread_only: bool = False,
    ) -> Connection[NotificationNode]:
        return await notifications_connection(info, first, after, unread_only)

    @strawberry.field(description="The number of your notifications not yet read.")
    async def unread_notification_count(self, info: Info) -> int:
        return await unread_count(info.context.viewer)


async def _note_visible(viewer: Viewer, note_id: int) -> bool:
    """Return whether the note exists and its contract, if any, is visible."""
    rows = await Note.filter(id=note_id, organization_id=viewer.organization_id).values(
        "contract_id"
    )
    if not rows:
        return False
    contract_id = rows[0]["contract_id"]
    return (
        contract_id is None
        or await visible_contracts(viewer).filter(id=contract_id).exists()
    )


def _client_filter(client_id: strawberry.ID | None) -> dict[str, int] | None:
    if client_id is None:
        return None
    return {"client_id": decode_typed_id(client_id, "Client", "clientId")}


async def _organization(organization_id: int) -> dict[str, Any]:
    from contractgql.models import Organization

    rows = await Organization.filter(id=organization_id).values(
        "name", "timezone", "default_currency", "vat_rates"
    )
    return rows[0]
