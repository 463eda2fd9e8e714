"""Root mutation fields. Each one authenticates, checks permission, validates its
input and runs one service action; invalid input comes back in the payload's
`errors` list, one entry per field."""
