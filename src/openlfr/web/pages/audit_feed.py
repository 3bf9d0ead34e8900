"""The audit log's signed checkpoints as an Atom feed: a feed reader (or an archive)
that polls it keeps a copy of each, outside this platform's database, and any one of
them can later prove that the log was not truncated or rewritten
(``openlfr audit verify --checkpoint``)."""

from __future__ import annotations

import json

from feedgen.feed import FeedGenerator
from starlette.requests import Request
from starlette.responses import Response

from openlfr import __version__
from openlfr.services import audit_log
from openlfr.services.platform import PUBLIC_ACTOR
from openlfr.web.pages.feeds import ATOM_TYPE
from openlfr.web.pages.rendering import PageRoute, platform_of

#: Earlier heads listed beside the latest, one every this many events, so that a reader
#: who polls rarely still collects checkpoints along the way.
CHECKPOINT_SPACING = 100
CHECKPOINTS_LISTED = 10


def checkpoints_feed(request: Request) -> Response:
    """The latest signed checkpoint and a few earlier ones, newest first; each entry's
    content is the checkpoint's JSON, as GET /api/public/audit/checkpoint gives it."""
    p = platform_of(request)
    latest = audit_log.checkpoint(p, PUBLIC_ACTOR)
    fg = FeedGenerator()
    self_url = str(request.url.replace(query=""))
    fg.id(self_url)
    fg.title("openlfr audit log checkpoints")
    fg.subtitle("Signed statements of the audit log's head. Save them: each proves later "
                "that the log still contains what it held then.")
    fg.link(href=self_url, rel="self")
    fg.author({"name": "openlfr platform"})
    fg.generator("openlfr", version=__version__)
    fg.updated(p.clock())
    if latest is not None:
        earlier = range((latest.seq - 1) // CHECKPOINT_SPACING * CHECKPOINT_SPACING, 0,
                        -CHECKPOINT_SPACING)
        listed = [latest, *(c for seq in list(earlier)[:CHECKPOINTS_LISTED - 1]
                            if (c := audit_log.checkpoint(p, PUBLIC_ACTOR, seq)) is not None)]
        api = str(request.url_for("audit_checkpoint_at", seq=latest.seq)).rsplit("/", 1)[0]
        for checkpoint in listed:
            entry = fg.add_entry(order="append")
            entry.id(f"{api}/{checkpoint.seq}#{checkpoint.head_hash}")
            entry.title(f"Audit log checkpoint: event #{checkpoint.seq}")
            entry.link(href=f"{api}/{checkpoint.seq}", rel="alternate")
            entry.updated(checkpoint.signed_at)
            entry.content(json.dumps(checkpoint.to_json(), indent=2), type="text")
    return Response(fg.atom_str(pretty=True), media_type=ATOM_TYPE)


PUBLIC_PATHS = ("/audit/checkpoints.atom",)

routes = [
    PageRoute("/audit/checkpoints.atom", checkpoints_feed, methods=["GET"],
              name="audit_checkpoints_atom"),
]
