"""The subcommands of ``crawl-pipeline`` that ``crawl_pipeline/cli.py`` registers, and their shared support."""
