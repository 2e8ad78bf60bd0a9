"""`python -m minqing.cli`: the `minqing` command."""

import sys

from minqing.cli import main

sys.exit(main())
