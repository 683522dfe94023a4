"""Operating the pipeline: the Prometheus endpoint and the generated configuration reference."""
