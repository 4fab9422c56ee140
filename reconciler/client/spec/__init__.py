"""Elastic's API specification as mlsync bundles it, and the hand-kept supplement (data only)."""
