"""The live view: a small web page, served by the device, showing what the engine sees and plays.

Usage (``soundscape run --view``)::

    from appliance.view import ViewServer
    view = ViewServer(engine, host=config.view.bind, port=config.view.port)
    view.start()        # a daemon thread; logs the URL (with ?token= when on the network)
    ...
    view.stop()

Files: ``server.py`` (HTTP, SSE, access rules), ``adapter.py`` (what is read from the
engine, the JSON event), ``images.py`` (frame JPEG, keyframe thumbnails),
``static/`` (the page: plain HTML, CSS and JS, no build step, no CDN).
"""

from appliance.view.adapter import EngineAdapter, ViewFeed, ViewSource, build_event
from appliance.view.server import ViewError, ViewServer, check_access, is_loopback_address

__all__ = [
    "EngineAdapter",
    "ViewError",
    "ViewFeed",
    "ViewServer",
    "ViewSource",
    "build_event",
    "check_access",
    "is_loopback_address",
]
