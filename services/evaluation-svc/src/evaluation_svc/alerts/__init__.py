"""Alerts (事前预警, 事中控制): pre-warning, commitment crossed, tolerance crossed — each raised once."""
