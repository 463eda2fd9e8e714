"""The GraphQL layer: types, queries and mutations that hand off to the services."""
