"""Writes per second the LMS client achieves against the sandbox's DEFAULT rate limits.

The sandbox enforces the real API's 10 writes/s; the client paces itself at that limit. The
goal is >= 90 % of the limit with (almost) no 429s: a long sync runs AT the limit instead of
bouncing off it. 2,000 writes take ~200 s. Prints the figure and the command to reproduce.

    python benchmarks/apply_rate.py [--writes 2000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from pydantic import SecretStr

from connectors.lms import LmsClient
from connectors.sandbox import SandboxServer

WRITE_LIMIT = 10.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=2000)
    args = parser.parse_args()

    with (
        tempfile.TemporaryDirectory() as tmp,
        SandboxServer(Path(tmp) / "bench.sqlite") as server,
        LmsClient(server.url, SecretStr(server.client_id), SecretStr(server.client_secret)) as client,
    ):
        pg = server.platform_group_id
        user, _ = client.create_user("bench@example.com", pg)
        client.counters.sent.clear()
        started = time.monotonic()
        # A mix of the writes a sync sends: profile updates, group creations, user creations.
        for i in range(args.writes):
            kind = i % 3
            if kind == 0:
                client.update_user(user["_id"], {"job": f"Job {i}"})
            elif kind == 1:
                client.create_group(f"Group {i}", pg)
            else:
                client.create_user(f"user{i}@example.com", pg)
        elapsed = time.monotonic() - started
        counters = client.counters

    rate = args.writes / elapsed
    share = rate / WRITE_LIMIT
    print(
        f"{args.writes} writes in {elapsed:.1f} s = {rate:.2f} writes/s = {share:.1%} of the "
        f"{WRITE_LIMIT:g}/s limit (goal >= 90%); 429s received: {counters.rate_limited}; "
        f"retries: {counters.retries}"
    )
    print(f"reproduce: python benchmarks/apply_rate.py --writes {args.writes}")
    sys.exit(0 if share >= 0.9 else 1)


if __name__ == "__main__":
    main()
