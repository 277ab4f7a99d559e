"""Media for the first-hour walkthrough (docs/first-hour.md), made on the spot.

Two clips of the demo's astronaut portrait at different frame rates (25 fps, 5 s, and NTSC
29.97 fps, 4 s), each with its sound inside the file, and a dialogue WAV to dub the first one
with. Nothing third-party: the portrait ships with scikit-image.

    python docs/first-hour/make_media.py ~/first-hour-media
"""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

from deepstudio.engine.demo_media import write_demo_clip, write_dialogue


def main(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    made = [write_demo_clip(folder / "interview_25fps.mp4", seconds=5.0, fps=25),
            write_demo_clip(folder / "closeup_2997fps.mp4", seconds=4.0,
                            fps=Fraction(30000, 1001), size=(854, 480)),
            write_dialogue(folder / "dialogue_de.wav", seconds=5.0)]
    for path in made:
        print(path)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "first-hour-media"))
