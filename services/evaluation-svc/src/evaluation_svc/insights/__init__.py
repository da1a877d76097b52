"""Rankings, recommendations, what-if replays and agreement reviews (penalties)."""
