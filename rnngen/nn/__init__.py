"""The networks: cells (one module each), the layers built from them, the models built from those,
and their settings."""
