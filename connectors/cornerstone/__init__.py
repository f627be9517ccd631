"""Cornerstone OnDemand: the API client, the feed server, and a local sandbox portal."""
