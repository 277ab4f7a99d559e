"""``deepstudio proxy``: make the proxies of a project's media before editing it.

The editor makes a proxy (a copy that seeks fast, for scrubbing) of slow-seeking media as a
background job; this command makes them ahead of time, e.g. on a machine left working over
night. A proxy appears only once complete, so a killed run leaves none half-written.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from deepstudio.cli.main import add_quiet
from deepstudio.cli.progress import ProgressBar
from deepstudio.errors import UserError


def register(subparsers) -> None:
    p = subparsers.add_parser("proxy", help="make fast-seeking proxies of a project's media")
    p.add_argument("project", type=Path, help="project folder (Name.dstudio)")
    p.add_argument("media", nargs="*",
                   help="media file names or ids (default: every video that seeks slowly)")
    add_quiet(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from deepstudio.cli.project import open_session
    from deepstudio.media.proxy import write_proxy

    session = open_session(args.project)  # proxies are cache files: the project is not changed
    try:
        for media_id in _chosen(session.project, args.media, args.project):
            path = session.media_path(media_id)
            bar = ProgressBar(f"Proxy of {path.name}", args.quiet)
            proxy = write_proxy(path, session.cache_dir, bar)
            bar.done()
            print(f"{path.name}: " + (f"proxy {proxy}" if proxy else "seeks fast, no proxy needed"))
    finally:
        session.close()
    return 0


def _chosen(project, names: list[str], folder: Path) -> list[str]:
    videos = [m for m in project.media.values() if m.has_video]
    if not names:
        return [m.id for m in videos]
    chosen = []
    for name in names:
        match = next((m for m in videos if name in (m.id, Path(m.path).name)), None)
        if match is None:
            raise UserError(f"no video named {name!r} in the project", folder)
        chosen.append(match.id)
    return chosen
