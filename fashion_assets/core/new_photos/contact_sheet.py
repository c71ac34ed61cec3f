"""A batch of new photos as one self-contained HTML page: per photo its crop, the top classes,
the most similar training images and the respondents most likely to like it. Thumbnails are
embedded (data URIs), so the page can be opened or mailed without the data root."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import pandas as pd
from PIL import Image

STYLE = """body{font-family:sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse}
td,th{border-bottom:1px solid #ddd;padding:.5em;vertical-align:top;text-align:left}
figure{display:inline-block;margin:0 .4em .4em 0;text-align:center;font-size:.75em;word-break:break-all}
img{display:block;border:1px solid #ccc}.note{color:#555;font-size:.9em}.bad{color:#a00}"""


def thumbnail_uri(path: str | Path, side: int = 128) -> str | None:
    """A JPEG thumbnail (longest side ``side``) as a data URI; None when the file cannot be read."""
    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
            im.thumbnail((side, side))
            buf = io.BytesIO()
            im.save(buf, "JPEG", quality=85)
    except OSError:
        return None
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()


def _figure(path, caption: str, side: int, detail: str = "") -> str:
    uri = thumbnail_uri(path, side)
    img = f'<img src="{uri}" alt="{html.escape(caption)}">' if uri else '<span class="bad">(file missing)</span>'
    below = html.escape(caption) + (f"<br>{html.escape(detail)}" if detail else "")
    return f'<figure style="max-width:{side + 40}px">{img}<figcaption>{below}</figcaption></figure>'


def contact_sheet(batch: str, photos: pd.DataFrame, matches: pd.DataFrame, quarantine: pd.DataFrame,
                  notes: list[str]) -> str:
    """The page. ``photos``: file_name, crop, class_j / probability_j; ``matches``: file_name, kind
    ('neighbour' or 'respondent'), rank, match, score, class_label, crop; ``quarantine``:
    file_name, stage, reason; ``notes``: lines about how the figures were made."""
    classes = sorted(int(c.split("_")[1]) for c in photos.columns if c.startswith("class_"))
    rows = []
    for photo in photos.itertuples(index=False):
        mine = matches[matches.file_name == photo.file_name].sort_values(["kind", "rank"])
        top = "<br>".join(f"{html.escape(str(getattr(photo, f'class_{j}')))} "
                          f"{getattr(photo, f'probability_{j}'):.0%}" for j in classes)
        neighbours = "".join(_figure(n.crop, str(n.match), 80, f"{n.class_label}, cosine {n.score:.2f}")
                             for n in mine[mine.kind == "neighbour"].itertuples(index=False))
        fans = "<br>".join(f"{html.escape(str(r.match))} ({r.score:.3f})"
                           for r in mine[mine.kind == "respondent"].itertuples(index=False))
        rows.append(f"<tr><td>{_figure(photo.crop, str(photo.file_name), 160)}</td><td>{top}</td>"
                    f"<td>{neighbours}</td><td>{fans or '-'}</td></tr>")
    bad = "".join(f"<li><b>{html.escape(str(q.file_name))}</b> ({html.escape(str(q.stage))}): "
                  f"{html.escape(str(q.reason))}</li>" for q in quarantine.itertuples(index=False))
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(batch)}</title>"
            f"<style>{STYLE}</style></head><body><h1>New photos: {html.escape(batch)}</h1>"
            + "".join(f"<p class='note'>{html.escape(n)}</p>" for n in notes)
            + "<table><tr><th>photo (crop)</th><th>classes</th><th>most similar training images</th>"
              "<th>most likely to like it</th></tr>" + "".join(rows) + "</table>"
            + (f"<h2 class='bad'>Quarantined ({len(quarantine)})</h2><ul>{bad}</ul>" if len(quarantine) else "")
            + "</body></html>")


def markdown_preview(photos: pd.DataFrame, matches: pd.DataFrame, limit: int = 12) -> str:
    """The sheet's first ``limit`` photos as a Markdown table with small thumbnails (for the
    asset's metadata in the web UI; the HTML page has them all)."""
    lines = ["| photo | classes | similar training images | likely fans |", "|---|---|---|---|"]
    for photo in photos.head(limit).itertuples(index=False):
        mine = matches[matches.file_name == photo.file_name].sort_values(["kind", "rank"])
        uri = thumbnail_uri(photo.crop, 64)
        cell = f"![{photo.file_name}]({uri}) {photo.file_name}" if uri else str(photo.file_name)
        classes = ", ".join(f"{getattr(photo, f'class_{j}')} {getattr(photo, f'probability_{j}'):.0%}"
                            for j in range(1, 4) if hasattr(photo, f"class_{j}"))
        similar = ", ".join(f"{m.match} ({m.class_label})" for m in mine[mine.kind == "neighbour"].itertuples())
        fans = ", ".join(f"{m.match} ({m.score:.2f})" for m in mine[mine.kind == "respondent"].itertuples())
        lines.append(f"| {cell} | {classes} | {similar} | {fans} |".replace("\n", " "))
    more = len(photos) - limit
    return "\n".join(lines) + (f"\n\n… and {more} more in the contact sheet." if more > 0 else "")
