"""``fnn playground``: a local page that trains small networks live on fnn's engine, beside the
chapter's equations (data, session, layers, chapter_panel, server; the page in static/).
"""

from .server import serve

__all__ = ["serve"]
