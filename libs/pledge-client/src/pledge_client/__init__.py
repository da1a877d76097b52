"""Pledge partner kit: a typed client of the public API (`PledgeClient`, `AsyncPledgeClient`).

from pledge_client import PledgeClient, PledgeProblem
with PledgeClient("https://pledge.example.com", api_key) as pledge:
    result = pledge.push_events(events)          # accepted / duplicates / rejected, per item
    for ticket in pledge.iter_tickets(process="fault-repair", status="open"):
        ...
"""

from pledge_client._calls import RetryPolicy
from pledge_client._client import AsyncPledgeClient, PledgeClient
from pledge_client._problem import PledgeProblem

__all__ = ["AsyncPledgeClient", "PledgeClient", "PledgeProblem", "RetryPolicy"]
