"""Request body examples of the gateway's own operations, by operationId."""

from typing import Any

EXAMPLES: dict[str, Any] = {
    "createApiKey": {
        "name": "field-app production",
        "scopes": ["events:write", "tickets:read"],
        "sources": ["field-app"],
        "expires_at": "2027-12-31T16:00:00Z",
    },
    "updateApiKey": {"rate_limits": {"write": {"rate": 50, "burst": 200}}},
    "rotateApiKey": {"grace_period": "PT24H"},
}
