"""Prefect flows: the entrypoints of the deployments in ``prefect.yaml``."""
