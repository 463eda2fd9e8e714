"""Business actions: validate input, check permissions, write in a transaction.

The GraphQL mutations and the importer both call these, so a rule holds on every path.
"""
