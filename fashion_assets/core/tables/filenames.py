"""Parse and validate image and survey-label file names.

Image:  ``{W|T}_{imageID}_{era}_{style}_{sex}.jpg``            e.g. ``W_01752_00_metrosexual_M.jpg``
Label:  ``{W|T}_{imageID}_{era}_{style}_{sex}_{surveyID}.json`` e.g. ``W_01752_00_metrosexual_M_146696.json``

A name that does not parse raises :class:`FilenameError` whose message says which part is wrong,
so that a quarantine row can carry the reason. A style that is well formed but not in the
vocabulary is *not* a parse error: the record keeps it and ``style_known`` is False, so that a
vocabulary check can report it instead of the row vanishing.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from .vocabulary import ERA_YEARS, PREFIXES, SEXES, class_label, is_known_class, normalise_style

def shown_name(name: str) -> str:
    """A file name as a table can hold it: its bytes (``os.fsencode``), those that are not UTF-8
    (a name from another system's share) written as ``\\xff`` escapes. A UTF-8 name is itself."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


IMAGE_PATTERN = "{W|T}_{imageID}_{era}_{style}_{sex}.jpg"
LABEL_PATTERN = "{W|T}_{imageID}_{era}_{style}_{sex}_{surveyID}.json"

# Canonical names only, ASCII digits only ("\d" would accept full-width and other Unicode digits).
# Labels join images on the exact image file name, so a name that differs only in case or in its
# extension (W_…_m.JPG, .jpeg) is quarantined with the canonical name to rename it to, never kept
# as an image no label can reach.
_IMAGE_RE = re.compile(r"([WT])_([0-9]{5})_([0-9]{2})_([a-z]+)_([WM])\.jpg")
_LABEL_RE = re.compile(r"([WT])_([0-9]{5})_([0-9]{2})_([a-z]+)_([WM])_([0-9]+)\.json")
_IMAGE_ANY_CASE = re.compile(r"([WT])_([0-9]{5})_([0-9]{2})_([a-z]+)_([WM])\.jpe?g", re.IGNORECASE)
_LABEL_ANY_CASE = re.compile(r"([WT])_([0-9]{5})_([0-9]{2})_([a-z]+)_([WM])_([0-9]+)\.json", re.IGNORECASE)


class FilenameError(ValueError):
    """A file name that does not follow the dataset's naming scheme."""


@dataclass(frozen=True)
class ParsedName:
    file_name: str
    prefix: str
    image_id: str
    era: str
    style: str
    style_raw: str
    sex: str
    survey_id: str | None = None

    @property
    def style_known(self) -> bool:
        return is_known_class(self.style, self.sex)

    @property
    def class_label(self) -> str:
        return class_label(self.style, self.sex)

    @property
    def jpg_name(self) -> str:
        """The image file this name refers to (for a label: the name without its survey ID)."""
        return f"{self.prefix}_{self.image_id}_{self.era}_{self.style_raw}_{self.sex}.jpg"


def _diagnose(name: str, stem: str, n_parts: int, pattern: str) -> str:
    """Say which part of a name breaks the pattern (only called on names that failed)."""
    parts = stem.split("_")
    if len(parts) != n_parts:
        return f"expected {n_parts} '_'-separated parts ({pattern}), found {len(parts)}"
    prefix, image_id, era, style, sex = parts[:5]
    if prefix.upper() not in PREFIXES:
        return f"prefix {prefix!r} is not W or T"
    if not (len(image_id) == 5 and image_id.isascii() and image_id.isdigit()):
        return f"imageID {image_id!r} is not 5 digits"
    if era not in ERA_YEARS:
        return f"era {era!r} is not one of {sorted(ERA_YEARS)}"
    if not style.isalpha():
        return f"style {style!r} is not alphabetic"
    if sex.upper() not in SEXES:
        return f"sex {sex!r} is not W or M"
    if n_parts == 6 and not (parts[5].isascii() and parts[5].isdigit()):
        return f"surveyID {parts[5]!r} is not numeric"
    return f"does not match {pattern}"


def _build(match: re.Match, name: str, survey_id: str | None) -> ParsedName:
    prefix, image_id, era, style_raw, sex = match.group(1, 2, 3, 4, 5)
    if era not in ERA_YEARS:
        raise FilenameError(f"era {era!r} is not one of {sorted(ERA_YEARS)}")
    return ParsedName(
        file_name=name, prefix=prefix, image_id=image_id, era=era,
        style=normalise_style(style_raw), style_raw=style_raw, sex=sex,
        survey_id=survey_id,
    )


def _not_canonical(match: re.Match, extension: str) -> FilenameError:
    prefix, image_id, era, style, sex = match.group(1, 2, 3, 4, 5)
    survey = f"_{match.group(6)}" if match.re.groups == 6 else ""
    canonical = f"{prefix.upper()}_{image_id}_{era}_{style.lower()}_{sex.upper()}{survey}{extension}"
    return FilenameError(f"not in the canonical form (upper-case prefix and sex, lower-case style, '{extension}'): "
                         f"rename it to {canonical}")


def parse_image_name(name: str) -> ParsedName:
    """Parse an image file name; raise FilenameError naming the broken part."""
    match = _IMAGE_RE.fullmatch(name)
    if match is None:
        if (loose := _IMAGE_ANY_CASE.fullmatch(name)) is not None:
            raise _not_canonical(loose, ".jpg")
        if not name.lower().endswith((".jpg", ".jpeg")):
            raise FilenameError("extension is not .jpg")
        raise FilenameError(_diagnose(name, name.rsplit(".", 1)[0], 5, IMAGE_PATTERN))
    return _build(match, name, None)


def parse_label_name(name: str) -> ParsedName:
    """Parse a survey-label file name; raise FilenameError naming the broken part."""
    match = _LABEL_RE.fullmatch(name)
    if match is None:
        if (loose := _LABEL_ANY_CASE.fullmatch(name)) is not None:
            raise _not_canonical(loose, ".json")
        if not name.lower().endswith(".json"):
            raise FilenameError("extension is not .json")
        raise FilenameError(_diagnose(name, name[: -len(".json")], 6, LABEL_PATTERN))
    return _build(match, name, match.group(6))
