"""``python -m hub.cli``: the same as ``ccpor-hub``."""

import sys

from hub.cli import main

sys.exit(main())
