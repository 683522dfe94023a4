"""Pure logic: no Dagster, no SQL. Tested fast and alone."""
