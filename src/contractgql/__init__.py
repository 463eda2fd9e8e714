"""contractgql: a GraphQL API for customer contracts."""

__version__ = "0.1.0"
