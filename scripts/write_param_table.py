"""Write ``sknn_mnist/cli/param_table.json`` again: the parameter names and constraints of
the registry's classifiers, which the command line checks before importing them.

    python scripts/write_param_table.py [--check]

Run it after a classifier's parameters or constraints change
(``tests/cli/test_cli_early_checks.py`` fails while the file is stale). ``--check`` writes
nothing and exits with status 1 when the file differs from what it would write.
"""

from __future__ import annotations

import argparse
import sys

from sknn_mnist.cli.params import TABLE_PATH, build_table, dump_table


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="compare, do not write")
    args = p.parse_args()
    text = dump_table(build_table())
    if args.check:
        current = TABLE_PATH.read_text(encoding="utf-8") if TABLE_PATH.exists() else ""
        print(f"{TABLE_PATH}: {'up to date' if current == text else 'stale'}")
        return 0 if current == text else 1
    TABLE_PATH.write_text(text, encoding="utf-8")
    print(f"wrote {TABLE_PATH}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
