"""Draw a generated fashion photo: a person-like figure wearing a look, on a cluttered background.

Returns the RGB photo and the true foreground mask (255 = person), so that segmentation can be
measured against ground truth. Deterministic for a given look and size.
"""

from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SKIN_TONES = ((240, 200, 170), (215, 170, 130), (170, 120, 85), (110, 75, 50))
HAIR_COLOURS = ((30, 25, 20), (80, 50, 30), (160, 120, 60), (200, 190, 170))


def _hex(c: str) -> tuple[int, int, int]:
    return tuple(int(c[i:i + 2], 16) for i in (1, 3, 5))


def _background(w: int, h: int, rng: np.random.Generator) -> Image.Image:
    """A non-white room-like background: gradient wall, floor, furniture-ish blocks, noise."""
    top, bottom = rng.integers(40, 220, 3), rng.integers(30, 200, 3)
    t = np.linspace(0, 1, h)[:, None, None]
    arr = (top * (1 - t) + bottom * t).repeat(w, axis=1)
    img = Image.fromarray(arr.astype(np.uint8), "RGB")
    d = ImageDraw.Draw(img)
    floor_y = int(h * rng.uniform(0.75, 0.9))
    d.rectangle([0, floor_y, w, h], fill=tuple(int(v) for v in rng.integers(40, 180, 3)))
    for _ in range(int(rng.integers(4, 10))):
        x0, y0 = rng.uniform(-0.1, 1.0) * w, rng.uniform(0, 0.9) * h
        bw, bh = rng.uniform(0.05, 0.4) * w, rng.uniform(0.05, 0.5) * h
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            d.rectangle([x0, y0, x0 + bw, y0 + bh], fill=colour)
        else:
            d.ellipse([x0, y0, x0 + bw, y0 + bh], fill=colour)
    noise = rng.normal(0, 6, (h, w, 3))
    return Image.fromarray(np.clip(np.asarray(img, float) + noise, 0, 255).astype(np.uint8))


def _pattern_layer(size, base, accent, pattern: str, unit: int, rng) -> Image.Image:
    layer = Image.new("RGB", size, base)
    if pattern == "solid":
        return layer
    d = ImageDraw.Draw(layer)
    w, h = size
    unit = max(unit, 3)
    if pattern == "stripes":
        for y in range(0, h, 2 * unit):
            d.rectangle([0, y, w, y + unit - 1], fill=accent)
    elif pattern == "check":
        for y in range(0, h, 2 * unit):
            d.rectangle([0, y, w, y + unit // 2], fill=accent)
        for x in range(0, w, 2 * unit):
            d.rectangle([x, 0, x + unit // 2, h], fill=accent)
    elif pattern == "dots":
        r = max(unit // 3, 1)
        for y in range(0, h, unit):
            for x in range((y // unit % 2) * unit // 2, w, unit):
                d.ellipse([x - r, y - r, x + r, y + r], fill=accent)
    else:  # print: scattered blobs
        for _ in range(int(w * h / (unit * unit) * 0.6)):
            x, y, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.3, 1.0) * unit
            d.ellipse([x - r, y - r, x + r, y + r], fill=accent)
    return layer


def _limb(cx, cy, length, width, angle_deg):
    """Polygon of a limb hanging from (cx, cy) rotated away from vertical by angle_deg."""
    a = math.radians(angle_deg)
    dx, dy = math.sin(a) * length, math.cos(a) * length
    nx, ny = math.cos(a) * width / 2, -math.sin(a) * width / 2
    return [(cx - nx, cy - ny), (cx + nx, cy + ny), (cx + dx + nx, cy + dy + ny), (cx + dx - nx, cy + dy - ny)]


def _frame(look: dict, sex: str, width: int, height: int, rng: np.random.Generator) -> tuple:
    """The figure's proportions and colours: (figure height, centre x, top y, 1% of the height,
    fit, shoulder, waist and hip half-widths, shoulder, waist, hip and foot y, skin, hair)."""
    fh = look["figure_height"] * height
    cx = look["figure_x"] * width
    y0 = (height - fh) * rng.uniform(0.3, 0.9)
    u = fh / 100.0  # one percent of the figure's height
    fit = look["fit"]
    shoulder = (13 if sex == "M" else 11) * u * (1.15 - 0.3 * fit)
    waist = (10 if sex == "M" else 8) * u * (1.25 - 0.35 * fit)
    hip = (11 if sex == "M" else 12) * u * (1.2 - 0.3 * fit)
    y_sh, y_waist, y_hip, y_foot = y0 + 15 * u, y0 + 45 * u, y0 + 52 * u, y0 + 97 * u
    skin = SKIN_TONES[rng.integers(len(SKIN_TONES))]
    hair = HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))]
    return fh, cx, y0, u, fit, shoulder, waist, hip, y_sh, y_waist, y_hip, y_foot, skin, hair


def render_photo(look: dict, sex: str, width: int, height: int) -> tuple[Image.Image, Image.Image]:
    if look.get("top_path"):
        return render_dressed(look, sex, width, height)
    rng = np.random.default_rng(int(look["background_seed"]))
    photo = _background(width, height, rng)
    mask = Image.new("L", (width, height), 0)
    top_mask = Image.new("L", (width, height), 0)
    bottom_mask = Image.new("L", (width, height), 0)
    skin_layer = Image.new("L", (width, height), 0)
    md, tm, bm, sk = (ImageDraw.Draw(m) for m in (mask, top_mask, bottom_mask, skin_layer))
    fh, cx, y0, u, fit, shoulder, waist, hip, y_sh, y_waist, y_hip, y_foot, skin, hair = _frame(look, sex, width, height, rng)

    # Head, neck, hair.
    head = [cx - 6 * u, y0 + 1 * u, cx + 6 * u, y0 + 14 * u]
    if look["long_hair"]:
        hair_box = [cx - 8 * u, y0, cx + 8 * u, y0 + 28 * u]
        md.ellipse(hair_box, fill=255)
        ImageDraw.Draw(photo).ellipse(hair_box, fill=hair)
    sk.rectangle([cx - 2.5 * u, y0 + 12 * u, cx + 2.5 * u, y_sh + 2 * u], fill=255)
    sk.ellipse(head, fill=255)

    # Arms (sleeves are part of the top, hands are skin).
    arm_len, arm_w = 36 * u, (6.5 - 2 * fit) * u
    for side, angle in ((-1, look["arm_left"]), (1, look["arm_right"])):
        poly = _limb(cx + side * (shoulder - arm_w / 2), y_sh + 2 * u, arm_len, arm_w, side * angle)
        tm.polygon(poly, fill=255)
        hx, hy = poly[2][0] / 2 + poly[3][0] / 2, poly[2][1] / 2 + poly[3][1] / 2
        sk.ellipse([hx - 2.5 * u, hy - 2.5 * u, hx + 2.5 * u, hy + 3 * u], fill=255)

    # Legs and bottom garment.
    spread = look["leg_spread"] * fh
    bottom = look["bottom"]
    leg_w = {"wide": 11, "leggings": 5.5, "trousers": 8}.get(bottom, 6.5) * u
    legs = [[(cx - hip + 1 * u, y_hip - 2 * u), (cx - 0.5 * u, y_hip),
             (cx - spread / 2 - 1 * u, y_foot), (cx - spread / 2 - leg_w - 1 * u, y_foot)],
            [(cx + hip - 1 * u, y_hip - 2 * u), (cx + 0.5 * u, y_hip),
             (cx + spread / 2 + 1 * u, y_foot), (cx + spread / 2 + leg_w + 1 * u, y_foot)]]
    hem = {"shorts": 68, "mini": 64, "skirt": 78, "dress": 82}.get(bottom)
    for leg in legs:
        (sk if hem else bm).polygon(leg, fill=255)
    if bottom == "shorts":
        for leg in legs:
            t = (hem * u + y0 - y_hip) / (y_foot - y_hip)
            bm.polygon([leg[0], leg[1], (leg[1][0] + (leg[2][0] - leg[1][0]) * t, y0 + hem * u),
                        (leg[0][0] + (leg[3][0] - leg[0][0]) * t, y0 + hem * u)], fill=255)
    elif hem:
        flare = (1.4 - 0.5 * fit) * hip
        target = tm if bottom == "dress" else bm
        target.polygon([(cx - waist, y_waist), (cx + waist, y_waist), (cx + flare, y0 + hem * u),
                        (cx - flare, y0 + hem * u)], fill=255)
    bm.polygon([(cx - waist, y_waist), (cx + waist, y_waist), (cx + hip, y_hip), (cx - hip, y_hip)], fill=255)

    # Torso.
    tm.polygon([(cx - shoulder, y_sh), (cx + shoulder, y_sh), (cx + waist, y_waist + 2 * u),
                (cx - waist, y_waist + 2 * u)], fill=255)
    tm.ellipse([cx - shoulder, y_sh - 2 * u, cx + shoulder, y_sh + 6 * u], fill=255)

    # Compose: skin, bottom, top (top over bottom), shoes, hat.
    unit = max(int(3 * u), 2)
    accent = _hex(look["accent_color"])
    photo.paste(Image.new("RGB", photo.size, skin), mask=skin_layer)
    photo.paste(_pattern_layer(photo.size, _hex(look["bottom_color"]), accent,
                               "solid" if look["pattern"] == "print" else "solid", unit, rng), mask=bottom_mask)
    photo.paste(_pattern_layer(photo.size, _hex(look["top_color"]), accent, look["pattern"], unit, rng), mask=top_mask)
    d = ImageDraw.Draw(photo)
    if look["long_hair"]:
        d.ellipse([cx - 6.5 * u, y0, cx + 6.5 * u, y0 + 6 * u], fill=hair)
    else:
        d.chord([cx - 6.2 * u, y0 + 0.5 * u, cx + 6.2 * u, y0 + 9 * u], 180, 360, fill=hair)
    for side in (-1, 1):
        x = cx + side * (spread / 2 + leg_w / 2 + 1 * u)
        shoe = [x - 4 * u, y_foot - 1.5 * u, x + 4 * u, y_foot + 2 * u]
        d.ellipse(shoe, fill=(20, 20, 20))
        md.ellipse(shoe, fill=255)
    if look["hat"]:
        hat = [cx - 8 * u, y0 - 1 * u, cx + 8 * u, y0 + 5 * u]
        d.ellipse(hat, fill=accent)
        md.ellipse(hat, fill=255)
    for m in (skin_layer, top_mask, bottom_mask):
        mask.paste(255, mask=m)
    if look["long_hair"]:
        d.ellipse([cx - 8 * u, y0, cx + 8 * u, y0 + 5 * u], fill=hair)

    return _lit(photo, look, width), mask


def _lit(photo: Image.Image, look: dict, width: int) -> Image.Image:
    """Lighting: a global gain and a soft edge so the figure is not a flat cut-out."""
    photo = photo.filter(ImageFilter.GaussianBlur(radius=max(width / 600, 0.4)))
    gain = np.asarray(photo, float) * look["lighting"]
    return Image.fromarray(np.clip(gain, 0, 255).astype(np.uint8))


def _wear(photo: Image.Image, mask: Image.Image, path: str, box, anchor: str = "top") -> None:
    """Paste a product photo, cut out of its background, as large as fits ``box`` (centred;
    at the box's top or bottom), and add it to the foreground mask."""
    from .wardrobe import cutout

    item = cutout(path)
    x0, y0, x1, y1 = box
    k = min((x1 - x0) / item.width, (y1 - y0) / item.height)
    w, h = max(1, round(item.width * k)), max(1, round(item.height * k))
    item = item.resize((w, h), Image.LANCZOS)
    at = (round((x0 + x1 - w) / 2), round(y0 if anchor == "top" else y1 - h))
    alpha = item.getchannel("A")
    photo.paste(item.convert("RGB"), at, alpha)
    mask.paste(255, (*at, at[0] + w, at[1] + h), alpha)


def render_dressed(look: dict, sex: str, width: int, height: int) -> tuple[Image.Image, Image.Image]:
    """An outfit of real product photos on a cluttered background (photo mode): the top (or
    dress) over the bottom, as one standing figure (the catalogue's apparel photos are mostly
    worn by models), the shoes on the floor beside it and an accessory at the other side."""
    rng = np.random.default_rng(int(look["background_seed"]))
    photo = _background(width, height, rng)
    mask = Image.new("L", (width, height), 0)
    fh, cx, y0, u = _frame(look, sex, width, height, rng)[:4]
    half = 24 * u * (1.1 - 0.2 * look["fit"])
    if look["bottom_path"]:
        _wear(photo, mask, look["bottom_path"], (cx - half, y0 + 40 * u, cx + half, y0 + 100 * u), anchor="bottom")
    _wear(photo, mask, look["top_path"], (cx - half, y0, cx + half, y0 + (62 if look["bottom_path"] else 98) * u))
    side = 1 if look["arm_right"] > look["arm_left"] else -1
    _wear(photo, mask, look["shoes_path"], (cx + side * (half + 2 * u), y0 + 88 * u, cx + side * (half + 22 * u),
                                            y0 + 100 * u), anchor="bottom")
    if look["accessory_path"]:
        _wear(photo, mask, look["accessory_path"], (cx - side * (half + 16 * u), y0 + 45 * u, cx - side * (half + 1 * u),
                                                    y0 + 60 * u))
    return _lit(photo, look, width), mask


def encode_jpeg(photo: Image.Image, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    photo.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()
