"""The plumbing every service must have, checked on tracking-svc against a real Postgres."""

from pledge_dev.conformance import *  # noqa: F403  (the shared conformance tests run against this service)
