"""`python -m display`: the lobby display program (see display/app.py)."""

import sys

from display.app import main

sys.exit(main())
