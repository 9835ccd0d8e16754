"""travel stage."""
