"""Analytics: match types, the DuckDB/Parquet export for analysts and the HTML report.

Pure code (no Dagster): the Dagster wiring lives in ``crawl_pipeline.defs.analytics``.
"""
