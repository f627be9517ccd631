"""The LMS target: a client for the LMS REST API v2 (360Learning's public contract).

Public API: ``LmsClient``, ``RateLimits``, ``Backoff``, ``Membership``, ``BulkItemResult``,
``RequestCounters``. The engine reaches the LMS only through this package.
"""

from connectors.lms.bulk import BulkItemResult, Membership
from connectors.lms.client import LmsClient
from connectors.lms.ratelimit import RateLimits
from connectors.lms.transport import Backoff, RequestCounters

__all__ = ["Backoff", "BulkItemResult", "LmsClient", "Membership", "RateLimits", "RequestCounters"]
