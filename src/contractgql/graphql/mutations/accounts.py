"""Mutations that manage users and API tokens. All need the `user:manage` permission."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry import UNSET

from contractgql.errors import FieldError, InvalidArgument, ValidationError
from contractgql.graphql.context import Info
from contractgql.graphql.inputs import ExpectedVersion, decode_typed_id, input_values
from contractgql.graphql.mutations.records import Payload
from contractgql.graphql.types.common import FieldErrorType, field_errors
from contractgql.graphql.types.tokens import (
    ApiTokenNode,
    ApiTokenScope,
    api_token_node_of,
)
from contractgql.graphql.types.users import UserNode, user_node_of
from contractgql.security import api_tokens
from contractgql.services import users as service


@strawberry.input
class CreateUserInput:
    email: str
    name: str
    roles: list[str] = strawberry.field(
        description="One or more of admin, management, finance, account_manager, "
        "sales, project_staff and integrator."
    )
    is_service_account: bool = strawberry.field(
        default=False,
        description="A service account has no password and calls the API with API "
        "tokens.",
    )
    password: str | None = strawberry.field(
        default=UNSET,
        description="Required for a person, at least 10 characters. Leave it out "
        "for a service account.",
    )


@strawberry.input
class CreateApiTokenInput:
    user_id: strawberry.ID = strawberry.field(
        description="The service account that the token acts as."
    )
    name: str = strawberry.field(description="What the token is for, to recognise it.")
    scopes: list[ApiTokenScope]
    expires_at: datetime | None = strawberry.field(
        default=UNSET,
        description="When the token stops working: at most 365 days ahead, 90 days "
        "ahead when left out. A time without an offset is UTC.",
    )


@strawberry.type(
    description="A new API token and its secret text, or the reasons its input was "
    "invalid."
)
class CreateApiTokenPayload:
    record: ApiTokenNode | None
    secret: str | None = strawberry.field(
        description="The token to send as 'Authorization: Bearer <secret>'. It is "
        "shown only here: store it now, because it cannot be read again."
    )
    errors: list[FieldErrorType]


@strawberry.type
class AccountMutations:
    @strawberry.mutation(
        description="Create a person or a service account in your organization."
    )
    async def create_user(
        self, info: Info, input: CreateUserInput
    ) -> Payload[UserNode]:
        try:
            user = await service.create_user(info.context.viewer, input_values(input))
        except ValidationError as error:
            return Payload(record=None, errors=field_errors(error.errors))
        return Payload(record=user_node_of(user), errors=[])

    @strawberry.mutation(
        description="Deactivate a user: their login and API tokens stop working at "
        "once, and their API tokens are revoked."
    )
    async def deactivate_user(
        self,
        info: Info,
        id: strawberry.ID,
        expected_version: ExpectedVersion = None,
    ) -> Payload[UserNode]:
        pk = decode_typed_id(id, "User")
        try:
            user = await service.deactivate_user(
                info.context.viewer, pk, expected_version
            )
        except ValidationError as error:
            return Payload(record=None, errors=field_errors(error.errors))
        return Payload(record=user_node_of(user), errors=[])

    @strawberry.mutation(
        description="Let a deactivated user log in again. API tokens revoked on "
        "deactivation stay revoked."
    )
    async def reactivate_user(
        self,
        info: Info,
        id: strawberry.ID,
        expected_version: ExpectedVersion = None,
    ) -> Payload[UserNode]:
        pk = decode_typed_id(id, "User")
        user = await service.reactivate_user(info.context.viewer, pk, expected_version)
        return Payload(record=user_node_of(user), errors=[])

    @strawberry.mutation(description="Replace the roles of a user.")
    async def set_user_roles(
        self,
        info: Info,
        id: strawberry.ID,
        roles: list[str],
        expected_version: ExpectedVersion = None,
    ) -> Payload[UserNode]:
        pk = decode_typed_id(id, "User")
        try:
            user = await service.set_user_roles(
                info.context.viewer,
                info.context.services.policy,
                pk,
                roles,
                expected_version,
            )
        except ValidationError as error:
            return Payload(record=None, errors=field_errors(error.errors))
        return Payload(record=user_node_of(user), errors=[])

    @strawberry.mutation(
        description="Create an API token for a service account. The response is "
        "the only place that shows its secret."
    )
    async def create_api_token(
        self, info: Info, input: CreateApiTokenInput
    ) -> CreateApiTokenPayload:
        try:
            token, secret = await api_tokens.create_api_token(
                info.context.viewer, _token_values(input)
            )
        except ValidationError as error:
            return CreateApiTokenPayload(
                record=None, secret=None, errors=field_errors(error.errors)
            )
        return CreateApiTokenPayload(
            record=api_token_node_of(token), secret=secret, errors=[]
        )

    @strawberry.mutation(
        description="Revoke an API token: it stops working at once. Revoking a "
        "revoked token changes nothing."
    )
    async def revoke_api_token(
        self, info: Info, id: strawberry.ID
    ) -> Payload[ApiTokenNode]:
        pk = decode_typed_id(id, "ApiToken")
        token = await api_tokens.revoke_api_token(info.context.viewer, pk)
        return Payload(record=api_token_node_of(token), errors=[])


def _token_values(input: CreateApiTokenInput) -> dict[str, Any]:
    """Return the input as create_api_token takes it, or raise ValidationError."""
    values = input_values(input)
    try:
        values["user_id"] = decode_typed_id(input.user_id, "User", "userId")
    except InvalidArgument as error:
        raise ValidationError(
            [FieldError("user_id", "invalid_id", error.message)]
        ) from None
    # The enum values are the scope names, such as 'read:financial'.
    values["scopes"] = [ApiTokenScope(scope).value for scope in input.scopes]
    return values
