"""GraphQL object types, built from plain row dicts so list fields stay cheap."""
