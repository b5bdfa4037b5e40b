"""``python -m aelab.compare``: the same as ``aelab-compare``."""

import sys

from aelab.compare.cli import main

sys.exit(main())
