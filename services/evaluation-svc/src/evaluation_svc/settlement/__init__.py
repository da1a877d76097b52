"""Settlement of agreements per billing period: charges, pending runs, caps, adjustments, approval."""
