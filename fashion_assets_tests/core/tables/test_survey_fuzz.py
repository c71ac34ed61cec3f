"""A fuzz pass over the survey parser: a bounded, seeded generator of mutated survey files (the
schema's fields with wrong types, whitespace, duplicate keys, nesting, encodings, truncation,
flipped bytes), parsed as label_files parses a folder. For each file: exactly one row or one
quarantine row with a reason the parser names; never an exception out of the step; and a row
only where a strict reading of the file (Python's json with every duplicate key refused) gives
the same respondent and answer — so no mutation turns a dislike into a like."""

import json

import numpy as np
import pandas as pd
import pytest

from fashion_assets.core.tables.scanning import UNEXPECTED, label_changes
from fashion_assets.core.tables.survey_json import SURVEY_FIELDS, USER_FIELDS

BASE = {"E_id": 118894, "imgName": "W_00001_50_ivy_M.jpg",
        "item": {"imgName": "W_00001_50_ivy_M.jpg", "era": 1950, "style": "ivy", "gender": "M",
                 "survey": {**{q: 1 for q in SURVEY_FIELDS}, "Q3": 8, "Q5": 2}},
        "user": {f: 1 for f in USER_FIELDS} | {"R_id": 5718}}
WRONG_VALUES = ["2", 2.0, 2.5, True, None, [], {}, [2], {"v": 2}, -1, 0, 2 ** 63, -(2 ** 63) - 1, 2 ** 64, 1e300, "",
                "\u0000", "２"]
KNOWN_REASONS = ("malformed JSON", "nested too deep", "duplicate key", "missing field", "not an integer",
                 "outside the 64-bit integer range", "not 1 (dislike) or 2 (like)", "imgName is", "top level is not")
FILES = 1500


def _paths(doc, prefix=()):
    for key, value in doc.items():
        yield prefix + (key,)
        if isinstance(value, dict):
            yield from _paths(value, prefix + (key,))


def _set(doc, path, value):
    for key in path[:-1]:
        doc = doc[key]
    doc[path[-1]] = value


def _drop(doc, path):
    for key in path[:-1]:
        doc = doc[key]
    doc.pop(path[-1], None)


def mutate(rng: np.random.Generator) -> bytes:
    """One mutated survey document: 1-3 mutations of the document, then maybe of its text."""
    doc = json.loads(json.dumps(BASE))
    paths = list(_paths(doc))
    for _ in range(rng.integers(1, 4)):
        path = paths[rng.integers(len(paths))]
        kind = rng.integers(4)
        try:
            if kind == 0:
                _set(doc, path, WRONG_VALUES[rng.integers(len(WRONG_VALUES))])
            elif kind == 1:
                _drop(doc, path)
            elif kind == 2:
                depth = int(rng.choice([2, 8, 33, 200, 1000, 3000]))
                _set(doc, path[:-1] + ("extra",), f"@deep{depth}@")  # written as text below: too deep for json
            else:
                _set(doc, path, int(rng.integers(1, 3)))  # another valid answer
        except (KeyError, TypeError, AttributeError):
            pass  # the path went away with an earlier mutation
    text = json.dumps(doc, separators=(",", ":")).encode()
    for depth in (2, 8, 33, 200, 1000, 3000):
        text = text.replace(f'"@deep{depth}@"'.encode(), b"[" * depth + b"]" * depth)
    kind = rng.integers(9)
    if kind == 0:  # whitespace anywhere between tokens
        text = text.replace(b":", rng.choice([b" :", b": ", b"\n:\t", b":"])).replace(b",", rng.choice([b" ,", b",\r\n"]))
    elif kind == 1:  # a key written twice, however spaced
        q = SURVEY_FIELDS[rng.integers(len(SURVEY_FIELDS))].encode()
        text = text.replace(b'"' + q + b'":', b'"' + q + b'":' + str(rng.integers(1, 3)).encode() + b',"' + q + b'"'
                            + rng.choice([b"", b" ", b"\n", b"\t "]) + b":", 1)
    elif kind == 2:  # cut short
        text = text[: rng.integers(len(text))]
    elif kind == 3:  # another encoding
        text = rng.choice([b"\xef\xbb\xbf" + text, text.decode().encode("utf-16"), text.decode().encode("utf-32")])
    elif kind == 4:  # flipped bytes
        data = bytearray(text)
        for at in rng.integers(len(data), size=rng.integers(1, 4)):
            data[at] = rng.integers(256)
        text = bytes(data)
    elif kind == 5:  # tokens Python's json takes and JSON does not
        text = text.replace(b":1,", rng.choice([b":NaN,", b":Infinity,", b":-Infinity,"]), 1)
    elif kind == 6:  # not an object at all
        text = rng.choice([b"[" + text + b"]", b"null", b'"text"', b"12"])
    return text


def _no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError("duplicate key")
    return dict(pairs)


def strict(text: bytes):
    """The file read strictly: Python's json, every duplicate key refused (None: not readable)."""
    try:
        return json.loads(text.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (ValueError, RecursionError, UnicodeDecodeError):
        return None


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory):
    raw = tmp_path_factory.mktemp("fuzz") / "raw"
    for folder in ("training_label", "validation_label", "training_image", "validation_image"):
        (raw / folder).mkdir(parents=True)
    rng = np.random.default_rng(20261207)
    texts = {}
    for k in range(FILES):
        name = f"W_{k % 100000:05d}_50_ivy_M_{k:06d}.json"
        texts[name] = mutate(rng)
        (raw / "validation_label" / name).write_bytes(texts[name])
    return raw, texts, label_changes(raw, workers=2, chunk_size=200)


def test_every_mutated_file_is_one_row_or_one_quarantine_row(fuzzed):
    _, texts, changes = fuzzed
    rows, quarantine = list(changes.added.file_name), list(changes.quarantine.file_name)
    assert len(rows) == len(set(rows)) and len(quarantine) == len(set(quarantine))
    assert set(rows).isdisjoint(quarantine) and set(rows) | set(quarantine) == set(texts)
    assert 0.1 * FILES < len(rows) < 0.9 * FILES  # the mutations make both kinds


def test_every_quarantine_reason_is_one_the_parser_names(fuzzed):
    _, _, changes = fuzzed
    reasons = changes.quarantine.reason
    assert not reasons.str.startswith(UNEXPECTED).any(), reasons[reasons.str.startswith(UNEXPECTED)].head().tolist()
    unknown = reasons[~reasons.map(lambda r: any(k in r for k in KNOWN_REASONS))]
    assert unknown.empty, unknown.head().tolist()


def test_a_row_holds_what_a_strict_reading_of_its_file_says(fuzzed):
    _, texts, changes = fuzzed
    for row in changes.added.itertuples():
        doc = strict(texts[row.file_name])
        assert doc is not None, (row.file_name, texts[row.file_name][:200])  # no duplicate, no NaN, valid UTF-8 JSON
        assert row.Q5 == doc["item"]["survey"]["Q5"] and row.R_id == doc["user"]["R_id"]
        stored = row._asdict()
        for q in SURVEY_FIELDS:
            expected = doc["item"]["survey"].get(q)
            assert pd.isna(stored[q]) if expected is None else stored[q] == expected, (row.file_name, q)
    duplicated = [n for n, t in texts.items() if strict(t) is None and _readable_but_duplicated(t)]
    assert duplicated and set(duplicated).isdisjoint(changes.added.file_name)


def _readable_but_duplicated(text: bytes) -> bool:
    try:
        json.loads(text.decode("utf-8"))
    except (ValueError, RecursionError, UnicodeDecodeError):
        return False
    return True


def test_the_corpus_is_bounded_and_the_same_every_run():
    a, b = np.random.default_rng(1), np.random.default_rng(1)
    assert [mutate(a) for _ in range(50)] == [mutate(b) for _ in range(50)]
