"""The framework-free engine: fetch loops over provider budgets, no Dagster imports."""
