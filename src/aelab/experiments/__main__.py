"""`python -m aelab.experiments`: the same as `aelab-experiments`."""

import sys

from aelab.experiments._cli import main

sys.exit(main())
