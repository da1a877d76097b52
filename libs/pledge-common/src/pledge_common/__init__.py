"""Shared plumbing for every Pledge service. Never domain models: a service's contract is its own."""
