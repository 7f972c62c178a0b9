"""Keys of ``scope["state"]`` through which the app's layers hand each other a request's context.

The app sets them; the journal, the control plane and the dispatcher read them.
"""

from __future__ import annotations

SERVER_SEND = "mock.server_send"
"""The server's own ``send``: a fault's ``drop`` closes its transport."""
LIVE = "mock.live"
"""The :class:`~mock_server.live.Live` world the request started with."""
SESSION = "mock.session"
SESSION_NAME = "mock.session_name"
API = "mock.api"
OPERATION = "mock.operation"
SIMULATED = "mock.simulated"
"""``"prefer"`` or ``"fault"`` when the answer was forced."""
