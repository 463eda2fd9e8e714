"""Portfolio reports: figures aggregated in SQL over the contracts a caller may see."""
