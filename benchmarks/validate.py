"""How long validating 1,000 customer files takes: lmsync (library and CLI) vs check-jsonschema.

Generates 1,000 valid customer files (rotating the three examples under new slugs) in a
temporary folder, then times:

- ``validate_paths`` in-process (the YAML loading, schema, semantic checks and models);
- the ``lmsync validate`` command on the folder (includes interpreter start-up);
- ``check-jsonschema --schemafile schemas/customer.schema.json`` on the same files (schema only).

Run: python benchmarks/validate.py [--files N]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from engine.config import validate_paths

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "customers"
SCHEMA = ROOT / "schemas" / "customer.schema.json"


def generate(folder: Path, count: int) -> list[Path]:
    templates = [p.read_text(encoding="utf-8") for p in sorted(EXAMPLES.glob("*.yaml"))]
    files = []
    for index in range(count):
        slug = f"customer-{index:04d}"
        text = re.sub(r"(?m)^customer: .*$", f"customer: {slug}", templates[index % len(templates)])
        path = folder / f"{slug}.yaml"
        path.write_text(text, encoding="utf-8")
        files.append(path)
    return files


def timed_run(command: list[str]) -> tuple[float, int]:
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    return time.perf_counter() - start, result.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lmsync-bench-") as tmp:
        folder = Path(tmp)
        files = generate(folder, args.files)

        start = time.perf_counter()
        diagnostics = validate_paths([folder])
        library = time.perf_counter() - start
        if diagnostics:
            print("\n".join(map(str, diagnostics[:5])), file=sys.stderr)
            return 1

        lmsync = shutil.which("lmsync") or "lmsync"
        cli, cli_code = timed_run([lmsync, "-q", "validate", str(folder)])
        check = shutil.which("check-jsonschema")
        if check:
            theirs, their_code = timed_run([check, "--schemafile", str(SCHEMA), *map(str, files)])
        n = len(files)
        print(f"files: {n} valid customer files (rotating examples/customers/*.yaml)")

        def line(label: str, seconds: float) -> str:
            return f"{label:<40} {seconds:6.2f} s  ({seconds / n * 1000:.2f} ms/file)"

        print(line("lmsync validate_paths (in-process):", library))
        print(line(f"lmsync validate (CLI, exit {cli_code}):", cli))
        if check:
            print(line(f"check-jsonschema (exit {their_code}):", theirs))
        else:
            print("check-jsonschema: not installed (pip install check-jsonschema)")
        print(f"reproduce: python benchmarks/validate.py --files {n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
