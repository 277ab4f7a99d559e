"""``deepstudio verify``: is this file disclosed synthetic media made with DeepStudio?"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "verify", help="check a file's content credentials and invisible watermark")
    p.add_argument("file", type=Path, help="any video or image file")
    p.add_argument("--json", type=Path, metavar="OUT", help="also write the report as JSON")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from deepstudio.engine.verify import verify_file

    report = verify_file(args.file)
    print(report.to_text())
    if args.json is not None:
        from deepstudio.persistence.atomic import atomic_write_text

        atomic_write_text(args.json, json.dumps(report.to_dict(), indent=2))
    return 0
