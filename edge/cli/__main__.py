"""`python -m edge.cli ...` runs the `kindergate` command line."""

import sys

from edge.cli import main

sys.exit(main())
