"""One survey-label JSON document, validated: the values the label table keeps, or LabelError
saying what is wrong (a missing or non-integer field, a non-string image name, an integer outside
64 bits, a key given twice with any spacing, nesting deeper than any survey has, malformed JSON)."""

from __future__ import annotations

import json
import re

import numpy as np
import orjson

USER_FIELDS = ("R_id", "r_gender", "age", "mar", "job", "income", "r_style1", "r_style2", "r_style3", "r_style4", "r_style5")
SURVEY_FIELDS = ("Q1", "Q2", "Q3", "Q411", "Q412", "Q413", "Q414", *(f"Q42{k:02d}" for k in range(1, 17)), "Q5")


class LabelError(ValueError):
    pass


def _int_field(container: dict, key: str, path: str, required: bool):
    if key not in container:
        if required:
            raise LabelError(f"missing field {path}")
        return None
    value = container[key]
    if not isinstance(value, int) or isinstance(value, bool):
        raise LabelError(f"field {path} is {_shown(value)}, not an integer")
    if not INT64_MIN <= value <= INT64_MAX:
        raise LabelError(f"field {path} is {value}, outside the 64-bit integer range")
    return value


INT64_MIN, INT64_MAX = -(2 ** 63), 2 ** 63 - 1


def _parsed_keys(doc: dict, user, item, survey) -> int | None:
    """Keys the parser kept, when the document has the survey's usual shape (four objects, no
    arrays — told by counting bytes); None for any other shape."""
    dicts = [d for d in (doc, user, item, survey) if isinstance(d, dict)]
    return sum(map(len, dicts)) if len(dicts) == 4 else None


# The end of a key: its closing quote, JSON whitespace, the colon. Every key in the text ends so
# (a string value holding '":' only adds matches), so the count is never below the keys written.
_KEY_END = re.compile(rb'"[ \t\n\r]*:')
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
MAX_DEPTH = 32  # a survey document nests 3 objects deep; anything far deeper is not one


def _has_duplicate_keys(data: bytes, parsed_keys: int | None) -> bool:
    """Fast check first, at C speed: the raw text has at least one key end per key written; as
    many as the parser kept means no key was repeated. Only when they differ (or the shape is
    unusual) is the document read again key by key."""
    if (parsed_keys is not None and data.count(b"{") == 4 and b"[" not in data
            and len(_KEY_END.findall(data)) == parsed_keys):
        return False
    return _duplicate_key(data) is not None


def _depth(data: bytes) -> int:
    """How deeply the document's arrays and objects nest (brackets inside strings not counted)."""
    text = np.frombuffer(_STRING.sub(b'""', data), dtype=np.uint8)
    step = np.isin(text, (ord("{"), ord("["))).astype(np.int32) - np.isin(text, (ord("}"), ord("]")))
    return int(step.cumsum().max(initial=0))


def _duplicate_key(data: bytes) -> str | None:
    """The first key that occurs twice in one object (orjson silently keeps the last value).
    Read by Python's recursive parser: a document nested deeper than MAX_DEPTH is refused first."""
    depth = _depth(data)
    if depth > MAX_DEPTH:
        raise LabelError(f"nested too deep ({depth} levels of arrays or objects; a survey has 3)")
    found: list[str] = []

    def pairs_hook(pairs):
        seen: dict = {}
        for k, v in pairs:
            if k in seen and not found:
                found.append(f"{k!r} (values {seen[k]!r} and {v!r})")
            seen[k] = v
        return dict(pairs)

    json.loads(data, object_pairs_hook=pairs_hook)
    return found[0] if found else None


def parse_label_document(data: bytes) -> tuple:
    """The values of one survey JSON in LABEL_VALUE_COLUMNS order; raises LabelError."""
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        if "depth limit" in str(exc):
            raise LabelError(f"nested too deep (more than orjson's 1024 levels: {exc})") from None
        raise LabelError(f"malformed JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise LabelError("malformed JSON (top level is not an object)")
    user, item = doc.get("user"), doc.get("item")
    survey = item.get("survey") if isinstance(item, dict) else None
    if _has_duplicate_keys(data, _parsed_keys(doc, user, item, survey)):
        raise LabelError(f"duplicate key {_duplicate_key(data)}: which answer is meant is unknown")
    if not isinstance(user, dict):
        raise LabelError("missing field user.R_id")
    if not isinstance(survey, dict):
        raise LabelError("missing field item.survey.Q5")
    img_name = doc.get("imgName")
    if img_name is not None and not isinstance(img_name, str):
        raise LabelError(f"imgName is {_shown(img_name)}, not a string")
    values = [_int_field(doc, "E_id", "E_id", False), img_name]
    values += [_int_field(user, f, f"user.{f}", f == "R_id") for f in USER_FIELDS]
    values += [_int_field(survey, q, f"item.survey.{q}", q == "Q5") for q in SURVEY_FIELDS]
    if values[-1] not in (1, 2):
        raise LabelError(f"item.survey.Q5 is {values[-1]}, not 1 (dislike) or 2 (like)")
    return tuple(values)


def _shown(value, limit: int = 60) -> str:
    """A value as a reason shows it: its repr, cut short."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


LABEL_VALUE_COLUMNS = ["E_id", "json_img_name", *USER_FIELDS, *SURVEY_FIELDS]
