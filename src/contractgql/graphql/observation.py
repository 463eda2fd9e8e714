"""Report each GraphQL operation and its error codes to the request's metrics."""

from __future__ import annotations

from collections.abc import Iterator

from strawberry.extensions import SchemaExtension

from contractgql.observability.metrics import current_observation
from graphql import get_operation_ast


class OperationObservation(SchemaExtension):
    """Add the operation's type, name and error codes to the request observation.

    It must come before ErrorCodes in the schema's extensions, so that it reads
    the errors after ErrorCodes gave them their codes. Operations without an
    observation, such as subscriptions over a websocket, are left out.
    """

    def on_operation(self) -> Iterator[None]:
        yield
        observation = current_observation.get()
        if observation is None:
            return
        context = self.execution_context
        if context.graphql_document is not None:
            operation = get_operation_ast(
                context.graphql_document, context.operation_name
            )
            if operation is not None:
                name = operation.name.value if operation.name else ""
                observation.operations.append((operation.operation.value, name))
        result = context.result
        for error in (result.errors if result is not None else None) or ():
            code = (error.extensions or {}).get("code")
            observation.error_codes.append(str(code) if code else "UNKNOWN")
