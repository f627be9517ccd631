"""GET requests per second the sandbox sustains, so it is never a benchmark's bottleneck.

Starts ``lmsync sandbox --no-rate-limit`` in its own process (as demos and CI run it, so
the clients do not share its interpreter lock), seeds a user, then N client threads each
drive an LmsClient (keep-alive session, client-side limits lifted) doing
GET /api/v2/users/{id} for a fixed duration. Prints the figure and the reproducing command.

    python benchmarks/sandbox_get.py [--seconds 5] [--threads 2]
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from pydantic import SecretStr

from connectors.lms import LmsClient, RateLimits
from connectors.sandbox import SandboxAdmin


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "engine.cli.main", "--quiet", "sandbox", "--port", "0"]
        command += ["--no-rate-limit", "--db", str(Path(tmp) / "bench.sqlite")]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        try:
            assert process.stdout is not None
            lines = [process.stdout.readline() for _ in range(4)]
            url = lines[0].split()[-1]
            client_id, client_secret, admin_token = (line.split()[2] for line in lines[1:4])
            with SandboxAdmin(url, admin_token) as admin:
                user_id = admin.seed(users=[{"mail": "bench@example.com"}])["users"][0]["_id"]
            counts, elapsed = _drive(url, client_id, client_secret, user_id, args.seconds, args.threads)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
            if process.stdout is not None:
                process.stdout.close()

    rate = sum(counts) / elapsed
    print(
        f"sandbox GET /api/v2/users/{{id}}: {sum(counts)} requests in {elapsed:.1f} s "
        f"with {args.threads} keep-alive client(s) = {rate:.0f} GET/s (goal >= 500)"
    )
    print(f"reproduce: python benchmarks/sandbox_get.py --seconds {args.seconds:g} --threads {args.threads}")
    sys.exit(0 if rate >= 500 else 1)


def _drive(
    url: str, client_id: str, client_secret: str, user_id: str, seconds: float, threads: int
) -> tuple[list[int], float]:
    counts = [0] * threads
    deadline = time.monotonic() + seconds

    def drive(slot: int) -> None:
        unlimited = RateLimits(get=None, write=None)
        with LmsClient(url, SecretStr(client_id), SecretStr(client_secret), rate_limits=unlimited) as client:
            client.get_user(user_id)  # the token is fetched outside the measured loop
            while time.monotonic() < deadline:
                client.get_user(user_id)
                counts[slot] += 1

    started = time.monotonic()
    workers = [threading.Thread(target=drive, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return counts, time.monotonic() - started


if __name__ == "__main__":
    main()
