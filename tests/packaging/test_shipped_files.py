"""What DeepStudio ships besides Python: the resources folder reached through the one lookup,
the Linux desktop metadata, and the Windows/macOS installer definitions, checked against each
other and against the code (names, MIME type, file suffixes, version), since nothing else
would notice them drifting apart. The frozen build itself is tested by
packaging/linux/smoke.sh."""

from __future__ import annotations

import configparser
import fnmatch
import plistlib
import re
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from deepstudio import __version__
from deepstudio.persistence.project_store import (
    MANIFEST_SUFFIX,
    MANIFEST_TEXT,
    PROJECT_SUFFIX,
    ProjectPaths,
)
from deepstudio.resources import APP_ID, PROJECT_MIME_TYPE, resource, resources_root

REPO = Path(__file__).resolve().parents[2]
LINUX = REPO / "resources" / "linux"
PACKAGING = REPO / "packaging"
MIME_NS = {"m": "http://www.freedesktop.org/standards/shared-mime-info"}


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">II", header[16:24])


def test_the_lookup_finds_the_top_level_resources_in_a_checkout() -> None:
    assert resources_root() == REPO / "resources"
    assert resource("theme/dark.qss").is_file()
    with pytest.raises(FileNotFoundError, match="missing"):
        resource("no/such/file.svg")


def test_every_toolbar_glyph_renders_in_both_theme_colours(qapp) -> None:
    from PySide6.QtGui import QIcon

    from deepstudio.qt.icons import icon

    glyphs = sorted((resources_root() / "icons" / "actions").glob("*.svg"))
    assert len(glyphs) > 20
    for glyph in glyphs:
        assert "currentColor" in glyph.read_text("utf-8"), glyph  # icons.py recolours it
        for state in (QIcon.State.Off, QIcon.State.On):
            image = icon(glyph.stem).pixmap(24, 24, QIcon.Mode.Normal, state).toImage()
            assert any(image.pixelColor(x, y).alpha() for x in range(24) for y in range(24))


def test_the_app_and_project_icons_exist_at_every_hicolor_size() -> None:
    hicolor = REPO / "resources" / "icons" / "hicolor"
    scalable = {
        f"apps/{APP_ID}", "mimetypes/" + PROJECT_MIME_TYPE.replace("/", "-")}
    assert {f"{p.parent.name}/{p.stem}" for p in (hicolor / "scalable").glob("*/*.svg")} == \
        scalable
    for name in scalable:
        for size in (16, 24, 32, 48, 64, 128, 256, 512):
            assert png_size(hicolor / f"{size}x{size}" / f"{name}.png") == (size, size)


def desktop_entry() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(LINUX / f"{APP_ID}.desktop", encoding="utf-8")
    return parser["Desktop Entry"]


def test_the_desktop_entry_opens_projects_with_the_gui_command() -> None:
    from deepstudio.cli.main import build_parser

    entry = desktop_entry()
    assert entry["Icon"] == APP_ID
    assert PROJECT_MIME_TYPE in entry["MimeType"].split(";")
    command = entry["Exec"].split()
    assert command[:2] == ["deepstudio", "gui"] and command[2] == "%f"
    manifest = ProjectPaths("/films/My Film.dstudio").manifest_file
    args = build_parser().parse_args([*command[1:2], str(manifest)])
    assert args.project == manifest


def test_the_mime_type_recognises_the_manifest_a_project_writes() -> None:
    root = ET.parse(LINUX / f"{APP_ID}.mime.xml").getroot()
    [mime] = root.findall("m:mime-type", MIME_NS)
    assert mime.get("type") == PROJECT_MIME_TYPE
    manifest = ProjectPaths(f"/films/My Film{PROJECT_SUFFIX}").manifest_file.name
    globs = [g.get("pattern") for g in mime.findall("m:glob", MIME_NS)]
    assert any(fnmatch.fnmatch(manifest, pattern) for pattern in globs), globs
    [match] = mime.findall("m:magic/m:match", MIME_NS)
    end = int(match.get("offset").split(":")[1])
    assert match.get("value") in MANIFEST_TEXT[:end]


def test_the_metainfo_describes_this_release_and_its_responsible_use() -> None:
    root = ET.parse(LINUX / f"{APP_ID}.metainfo.xml").getroot()
    assert root.findtext("id") == APP_ID
    assert root.findtext("launchable") == f"{APP_ID}.desktop"
    assert root.findtext("provides/mediatype") == PROJECT_MIME_TYPE
    assert root.find("releases/release").get("version") == __version__
    assert root.find("content_rating") is not None
    text = " ".join(root.find("description").itertext())
    for promise in ("consent record", "content credentials", "invisible watermark"):
        assert promise in text


@pytest.mark.skipif(not shutil.which("desktop-file-validate") or not shutil.which("appstreamcli"),
                    reason="desktop-file-utils and appstream are not installed (.ci/run does)")
def test_the_freedesktop_validators_accept_the_metadata() -> None:
    subprocess.run(["desktop-file-validate", str(LINUX / f"{APP_ID}.desktop")], check=True)
    subprocess.run(["appstreamcli", "validate", "--no-net",
                    str(LINUX / f"{APP_ID}.metainfo.xml")], check=True)


def test_the_macos_bundle_declares_project_folders_a_document_package() -> None:
    info = plistlib.loads((PACKAGING / "macos" / "Info.plist").read_bytes())
    assert info["CFBundleIdentifier"] == APP_ID
    assert info["CFBundleShortVersionString"] == __version__
    assert f'name="{info["CFBundleExecutable"]}"' in (PACKAGING / "deepstudio.spec").read_text()
    [document] = info["CFBundleDocumentTypes"]
    assert document["LSTypeIsPackage"] is True
    [uti] = info["UTExportedTypeDeclarations"]
    assert document["LSItemContentTypes"] == [uti["UTTypeIdentifier"]]
    assert "com.apple.package" in uti["UTTypeConformsTo"]
    assert uti["UTTypeTagSpecification"]["public.filename-extension"] == [PROJECT_SUFFIX[1:]]


# --- Inno Setup --------------------------------------------------------------------------
# No Inno Setup compiler runs here (it is a Windows program), so the script gets a structural
# parse: known sections, "Name: value; …" entries with balanced quotes and known, required
# parameters, preprocessor names defined before use, and Inno constants that exist.

ISS_PARAMETERS = {
    "Tasks": ({"Name", "Description"}, {"GroupDescription", "Flags"}),
    "Files": ({"Source", "DestDir"}, {"Flags"}),
    "Icons": ({"Name", "Filename"}, {"Comment", "Tasks", "Parameters", "IconFilename"}),
    "Registry": ({"Root", "Subkey", "ValueType", "ValueName", "ValueData"}, {"Flags"}),
    "Run": ({"Filename"}, {"Description", "Flags", "Parameters"}),
}
ISS_CONSTANTS = {"app", "autopf", "autodesktop", "group", "uninstallexe"}


def iss_entry(line: str) -> dict[str, str]:
    params = {}
    for part in re.findall(r'(?:[^;"]|"(?:[^"]|"")*")+', line):
        key, sep, value = part.strip().partition(": ")
        assert sep and re.fullmatch(r"[A-Za-z]+", key), part
        value = value.strip()
        if value.startswith('"'):
            assert re.fullmatch(r'"(?:[^"]|"")*"', value), f"unbalanced quotes: {value}"
        params[key] = value
    return params


def parse_iss(text: str) -> tuple[dict[str, str], dict[str, str], dict[str, list[dict]]]:
    defines: dict[str, str] = {}
    setup: dict[str, str] = {}
    sections: dict[str, list[dict]] = {}
    section = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(";"):
            continue
        if line.startswith("#"):
            directive = re.match(r"#(define|ifndef|ifdef|endif|else)\b\s*(\w*)\s*(.*)", line)
            assert directive, line
            if directive[1] == "define":
                defines[directive[2]] = directive[3].strip('"')
            continue
        for name in re.findall(r"\{#(\w+)\}", line):
            assert name in defines, f"{name} used before #define"
        for constant in re.findall(r"(?<!\{)\{(\w+)\}", line.replace("{{", "")):
            assert constant in ISS_CONSTANTS, f"unknown constant {{{constant}}}"
        if header := re.fullmatch(r"\[(\w+)\]", line):
            section = header[1]
            assert section == "Setup" or section in ISS_PARAMETERS, section
            continue
        if section == "Setup":
            key, sep, value = line.partition("=")
            assert sep and re.fullmatch(r"[A-Za-z0-9]+", key), line
            setup[key] = value
        else:
            entry = iss_entry(line)
            required, optional = ISS_PARAMETERS[section]
            assert required <= entry.keys() <= required | optional, (section, entry)
            sections.setdefault(section, []).append(entry)
    return defines, setup, sections


def test_the_inno_setup_script_installs_the_frozen_folder_and_associates_projects() -> None:
    script = PACKAGING / "windows" / "DeepStudio.iss"
    defines, setup, sections = parse_iss(script.read_text("utf-8"))
    assert defines["AppVersion"] == __version__
    assert defines["ProjectExt"] == MANIFEST_SUFFIX
    assert setup["ChangesAssociations"] == "yes"
    assert f'NAME = "{defines["AppName"]}"' in (PACKAGING / "deepstudio.spec").read_text()
    assert f"{defines['AppName']}.exe" == defines["AppExe"]
    source_dir = (script.parent / setup["SourceDir"].replace("\\", "/")).resolve()
    assert source_dir == REPO
    [files] = sections["Files"]
    assert files["Source"] == '"dist\\DeepStudio\\*"' and "recursesubdirs" in files["Flags"]
    assert any("{group}" in icon["Name"] for icon in sections["Icons"])
    commands = [r for r in sections["Registry"] if r["Subkey"].endswith('shell\\open\\command"')]
    assert commands and '"" gui ""%1""' in commands[0]["ValueData"]


def test_the_spec_and_launcher_are_valid_python_and_the_launcher_acts_as_python() -> None:
    compile((PACKAGING / "deepstudio.spec").read_text("utf-8"), "deepstudio.spec", "exec")
    launcher = str(PACKAGING / "launcher.py")
    out = subprocess.run([sys.executable, launcher, "-B", "-s", "-c",
                          "import sys; print(sys.argv[1:])", "a", "b"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['a', 'b']"
    out = subprocess.run([sys.executable, launcher, "-m", "json.tool", "--help"],
                         capture_output=True, text=True, check=True)
    assert "usage" in out.stdout
