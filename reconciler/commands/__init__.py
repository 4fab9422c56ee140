"""Click commands of the `mlsync` CLI, one module per command (thin: flags -> library -> output)."""
