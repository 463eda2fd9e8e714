"""Authentication, roles and the checks on what a caller may read and change."""
