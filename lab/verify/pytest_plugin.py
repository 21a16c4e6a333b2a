"""pytest plugin for privatelink-lab (registered through the pytest11 entry point)."""
