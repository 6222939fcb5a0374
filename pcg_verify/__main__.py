"""``python -m pcg_verify``: the same as the ``pcg-verify`` command."""

import sys

from pcg_verify.cli import main

if __name__ == "__main__":  # a spawned worker process imports this module too
    sys.exit(main())
