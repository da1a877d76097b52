"""Small helpers every domain of commitment-svc uses: keys, ETags, base schemas."""
