"""Render an HTML report into PNG pictures, one per section, with headless Chromium (optional).

Used to refresh the pictures in docs/images/ shown in the README; nothing else (tests, CI)
needs a browser. Needs the Debian package ``chromium`` (``apt-get install -y chromium``) or
``--chromium PATH``, and Pillow (installed with matplotlib) to trim the empty page below
each section.

    python scripts/render_report.py out/report.html --out docs/images

Each section of the report is written to a temporary page of its own (same styles; the first
one keeps the page header), screenshotted at 1280 px wide, and cropped to its content.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

WIDTH = 1280
START_HEIGHT = 4000
MAX_HEIGHT = 16000
BACKGROUND = (246, 247, 249)  # body background of the report's CSS (#f6f7f9)
MARGIN = 24
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
)


def section_pages(html: str) -> dict[str, str]:
    """One standalone page per ``<section id=...>``: the first keeps the report's header."""
    head, rest = html.split("<main>", 1)
    sections = re.findall(r'(<section id="([^"]+)">.*?</section>)', rest, flags=re.S)
    if not sections:
        raise SystemExit("no <section id=...> found: is this a predictor report?")
    bare_head = re.sub(r"<header>.*?</header>", "", head, flags=re.S)
    pages = {}
    for i, (body, key) in enumerate(sections):
        top = head if i == 0 else bare_head
        pages[key] = f"{top}<main>{body}</main></body></html>\n"
    return pages


def screenshot(chromium: str, page: Path, png: Path, height: int, profile: Path) -> None:
    """One Chromium screenshot of ``page`` at ``WIDTH`` x ``height`` pixels."""
    command = [
        chromium,
        *FLAGS,
        f"--user-data-dir={profile}",
        f"--window-size={WIDTH},{height}",
        f"--screenshot={png}",
        page.as_uri(),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0 or not png.exists():
        raise SystemExit(f"chromium failed on {page.name}: {result.stderr.strip()[-500:]}")


def content_bottom(png: Path) -> int:
    """The last pixel row that is not plain page background."""
    image = Image.open(png).convert("RGB")
    width, height = image.size
    pixels = image.load()
    for y in range(height - 1, -1, -1):
        if any(pixels[x, y] != BACKGROUND for x in range(0, width, 4)):
            return y
    return 0


def render(html_path: Path, out_dir: Path, chromium: str, prefix: str) -> list[Path]:
    """Write ``<prefix>-<section>.png`` for every section of the report; return the paths."""
    pages = section_pages(html_path.read_text(encoding="utf-8"))
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory(prefix="render-report-") as tmp:
        tmp = Path(tmp)
        for key, text in pages.items():
            page = tmp / f"{key}.html"
            page.write_text(text, encoding="utf-8")
            png = tmp / f"{key}.png"
            height = START_HEIGHT
            while True:
                screenshot(chromium, page, png, height, tmp / "profile")
                bottom = content_bottom(png)
                if bottom < height - MARGIN or height >= MAX_HEIGHT:
                    break
                height = min(2 * height, MAX_HEIGHT)
            target = out_dir / f"{prefix}-{key}.png"
            cropped = Image.open(png).crop((0, 0, WIDTH, min(bottom + MARGIN, height)))
            partial = target.with_suffix(".png.tmp")
            cropped.save(partial, format="PNG", optimize=True)
            partial.replace(target)
            written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("report", type=Path, help="HTML report written by `predictor report`")
    parser.add_argument("--out", type=Path, default=Path("docs/images"), help="output folder")
    parser.add_argument("--prefix", default="report", help="file name prefix of the PNGs")
    parser.add_argument("--chromium", default=None, help="browser binary (default: chromium)")
    args = parser.parse_args(argv)
    chromium = args.chromium or shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        print("chromium not found: apt-get install -y chromium, or pass --chromium", file=sys.stderr)
        return 2
    for path in render(args.report, args.out, chromium, args.prefix):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
