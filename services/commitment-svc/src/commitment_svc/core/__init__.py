"""Small helpers every domain of commitment-svc uses: keys, ETags, cursors, durations, base schemas."""
