"""optimise stage."""
