"""``python -m mock_server`` is ``mock-server``."""

from __future__ import annotations

import sys

from mock_server.entry import main

sys.exit(main())
