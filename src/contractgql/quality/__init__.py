"""Data quality: required-field rules, choice lists, completeness, signals."""
