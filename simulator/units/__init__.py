"""units stage."""
