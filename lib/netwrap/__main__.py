"""``python -m netwrap``."""

import sys

from netwrap.cli import main

sys.exit(main())
