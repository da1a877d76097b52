"""Corrective actions (改进措施): owner, due date, status, causes, and a check of their effect."""
