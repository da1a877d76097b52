"""The read model: reference tables and node runs with their governing version and due instants."""
