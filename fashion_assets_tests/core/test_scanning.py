import io

import orjson
import pytest
from PIL import Image

from fashion_assets.core.scanning import LabelError, inspect_jpeg, parse_label_document, LABEL_VALUE_COLUMNS

DOC = {"E_id": 1, "imgName": "W_00001_50_ivy_M.jpg",
       "item": {"imgName": "W_00001_50_ivy_M.jpg", "era": 1950, "style": "ivy", "gender": "M",
                "survey": {"Q1": 3, "Q2": 1, "Q411": 2, "Q412": 1, "Q413": 1, "Q414": 2, "Q5": 2}},
       "user": {"R_id": 42, "r_gender": 1, "age": 2}}


def test_optional_answers_may_be_missing():
    values = dict(zip(LABEL_VALUE_COLUMNS, parse_label_document(orjson.dumps(DOC))))
    assert values["R_id"] == 42 and values["Q5"] == 2
    assert values["Q3"] is None and values["Q4201"] is None and values["mar"] is None


@pytest.mark.parametrize("mutate, reason", [
    (lambda d: d["user"].pop("R_id"), "missing field user.R_id"),
    (lambda d: d["item"]["survey"].pop("Q5"), "missing field item.survey.Q5"),
    (lambda d: d["item"]["survey"].update(Q5=3), "Q5 is 3, not 1"),
    (lambda d: d["item"]["survey"].update(Q1="3"), "field item.survey.Q1 is '3', not an integer"),
    (lambda d: d.pop("item"), "missing field item.survey.Q5"),
])
def test_bad_documents_say_what_is_wrong(mutate, reason):
    doc = orjson.loads(orjson.dumps(DOC))
    mutate(doc)
    with pytest.raises(LabelError, match=reason):
        parse_label_document(orjson.dumps(doc))


def test_malformed_json():
    with pytest.raises(LabelError, match="malformed JSON"):
        parse_label_document(orjson.dumps(DOC)[:40])
    with pytest.raises(LabelError, match="top level is not an object"):
        parse_label_document(b"[1, 2]")


def _jpeg(mode="RGB"):
    buf = io.BytesIO()
    Image.new(mode, (20, 30), 128).save(buf, format="JPEG")
    return buf.getvalue()


def test_inspect_jpeg(tmp_path):
    good = tmp_path / "a.jpg"
    good.write_bytes(_jpeg("L"))
    facts = inspect_jpeg(good)
    assert (facts["width"], facts["height"], facts["mode"]) == (20, 30, "L")
    for data, reason in ((b"", "empty file"), (_jpeg()[:-50], "(?i)truncated"), (b"\x89PNG....", "no JPEG start")):
        bad = tmp_path / "b.jpg"
        bad.write_bytes(data)
        with pytest.raises(ValueError, match=reason):
            inspect_jpeg(bad)
