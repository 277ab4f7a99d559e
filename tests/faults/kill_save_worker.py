"""A process that edits a project and saves it over and over, to be killed mid-save.

``python kill_save_worker.py PROJECT --saves N`` opens the project for editing (so it also
has to take over the lock that the previous, killed worker left behind), then repeats: add an
identity named "edit <n>", autosave it (as the editor's timer does), add another, save (as
File > Save does, with backups), print ``saved <n>`` once the save returned. It stops after N
saves. Whatever ``saved`` announced must survive a kill at any later moment.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))


def main() -> int:
    from deepstudio.core.commands import AddIdentity
    from deepstudio.core.project import Identity
    from deepstudio.errors import UserError
    from deepstudio.session import Session
    from deepstudio.types import new_id

    parser = argparse.ArgumentParser()
    parser.add_argument("project", type=Path)
    parser.add_argument("--saves", type=int, default=3)
    args = parser.parse_args()
    try:
        session = Session.open(args.project, program="fault campaign save worker")
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        first = 1 + sum(i.name.startswith("edit ") for i in session.project.identities.values())
        for n in range(first, first + 2 * args.saves):
            session.do(AddIdentity(Identity(new_id("identity"), f"edit {n}")))
            if n % 2:
                session.write_autosave()
                print(f"autosaved {n}", flush=True)
            else:
                session.save()
                print(f"saved {n}", flush=True)
    finally:
        session.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
