"""``python -m pcg_verify``: the same as the ``pcg-verify`` command."""

import sys

from pcg_verify.cli import main

sys.exit(main())
