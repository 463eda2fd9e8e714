"""Benchmark of the contracts page: the GraphQL server against hand-written SQL."""
