"""Domain rules: dates, notice deadlines, money and contract figures.

Nothing in this package touches the database or GraphQL, so every rule can be tested
with plain values.
"""
