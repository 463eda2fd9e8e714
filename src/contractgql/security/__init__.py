"""Authentication, roles and the checks that decide what a caller may read and change."""
