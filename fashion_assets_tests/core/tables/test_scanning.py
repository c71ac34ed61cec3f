import io
import os

import duckdb
import orjson
import pandas as pd
import pytest
from PIL import Image

from fashion_assets.core.common.fingerprint import fingerprint
from fashion_assets.core.tables.file_match import match_stored
from fashion_assets.core.tables.scanning import LABEL_COLUMNS, inspect_jpeg, label_changes
from fashion_assets.core.tables.survey_json import LABEL_VALUE_COLUMNS, LabelError, parse_label_document

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


@pytest.mark.parametrize("spacing", [' :', '\n:', '\t :', ' \r\n :'])
def test_a_key_given_twice_is_refused_however_it_is_spaced(spacing):
    """The duplicate-key check's fast path once counted '":' only: "Q5":1,"Q5" :2 stored Q5 = 2,
    a dislike silently turned into a like."""
    text = orjson.dumps(DOC).replace(b'"Q5":2', b'"Q5":1,"Q5"' + spacing.encode() + b'2')
    with pytest.raises(LabelError, match="duplicate key 'Q5' \\(values 1 and 2\\)"):
        parse_label_document(text)


def test_spacing_alone_is_no_duplicate():
    spaced = orjson.dumps(DOC).replace(b'":', b'" : ').replace(b",", b" ,\n ")
    assert parse_label_document(spaced) == parse_label_document(orjson.dumps(DOC))


@pytest.mark.parametrize("depth", [40, 1000, 5000])
def test_a_deeply_nested_extra_field_is_refused_not_a_crash(depth):
    """A 1000-deep array once raised RecursionError out of the parser: the whole step failed."""
    text = orjson.dumps(DOC).replace(b'"E_id"', b'"extra":' + b"[" * depth + b"]" * depth + b',"E_id"')
    with pytest.raises(LabelError, match="nested too deep"):
        parse_label_document(text)


def test_brackets_inside_strings_are_not_nesting():
    doc = orjson.loads(orjson.dumps(DOC))
    doc["note"] = "[[[[" * 50 + '"{{{'
    assert parse_label_document(orjson.dumps(doc).replace(b'"Q5":2', b'"Q5" :2'))[-1] == 2


def test_an_image_name_that_is_not_a_string_is_refused():
    doc = orjson.loads(orjson.dumps(DOC))
    doc["imgName"] = {"a": 1}
    with pytest.raises(LabelError, match="imgName is \\{'a': 1\\}, not a string"):
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


def _label_files(root):
    """label_files materialized over ``root`` as the product runs it (its TableChange applied by
    the warehouse I/O manager): (the stored table sorted, the quarantine, the step's counts)."""
    import dagster as dg

    from fashion_assets.definitions import build_definitions

    defs = build_definitions(root)
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(list(defs.assets), selection=["label_table", "label_quarantine"],
                                resources=defs.resources, instance=instance)
    counts = result.asset_materializations_for_node("label_files")[0].metadata["files"].value
    table = defs.load_asset_value("label_table").sort_values(["split", "file_name"], ignore_index=True)
    return table[LABEL_COLUMNS], defs.load_asset_value("label_quarantine"), counts


def test_incremental_label_parsing_equals_a_full_parse(tmp_path):
    raw = tmp_path / "raw"
    for folder in ("training_label", "validation_label", "training_image", "validation_image"):
        (raw / folder).mkdir(parents=True)

    def write(folder, name, doc, mtime=None):
        path = raw / folder / name
        path.write_bytes(orjson.dumps(doc) if isinstance(doc, dict) else doc)
        if mtime:
            os.utime(path, ns=(mtime, mtime))
        return path

    for k in range(30):
        write("training_label" if k % 3 else "validation_label", f"W_{k:05d}_50_ivy_M_{k:06d}.json",
              {**DOC, "user": {"R_id": k}})
    write("training_label", "W_99999_50_ivy_M_000999.json", b"{broken")
    table, quarantine, counts = _label_files(tmp_path)
    assert counts["parsed"] == 31 and len(table) == 30 and len(quarantine) == 1
    changed = write("training_label", "W_00001_50_ivy_M_000001.json", {**DOC, "user": {"R_id": 1001}})  # edited
    stamp = changed.stat().st_mtime_ns
    write("training_label", "W_00002_50_ivy_M_000002.json", {**DOC, "user": {"R_id": 10002}}, mtime=stamp)
    (raw / "training_label" / "W_00004_50_ivy_M_000004.json").unlink()  # deleted
    write("validation_label", "W_00100_50_ivy_M_000100.json", {**DOC, "user": {"R_id": 100}}, mtime=10**9)  # old mtime
    write("training_label", "W_99999_50_ivy_M_000999.json", orjson.dumps(DOC))  # fixed
    write("training_label", "W_00005_50_ivy_M_000005.json", b'{"E_id": 1}')  # broken now
    # The matching, in pandas and where DuckDB stores the rows: the same change.
    with duckdb.connect(str(tmp_path / "matching.duckdb")) as conn:
        conn.execute("CREATE SCHEMA fashion")
        conn.register("stored_frame", table)
        conn.execute("CREATE TABLE fashion.label_table AS SELECT * FROM stored_frame")
        in_pandas = label_changes(raw, table, quarantine, workers=1)
        in_duckdb = label_changes(raw, lambda files: match_stored(conn, "fashion.label_table", files), quarantine,
                                  workers=1)
        conn.execute("ALTER TABLE fashion.label_table DROP COLUMN file_mtime_ns")  # stored by older code
        old_schema = label_changes(raw, lambda files: match_stored(conn, "fashion.label_table", files), None, workers=1)
    inc_table, inc_quarantine, inc = _label_files(tmp_path)
    full = label_changes(raw, workers=1)
    pd.testing.assert_frame_equal(inc_table, full.added, check_dtype=False)
    pd.testing.assert_frame_equal(inc_quarantine.sort_values(["split", "file_name"], ignore_index=True),
                                  full.quarantine, check_dtype=False)
    assert inc["parsed"] == 5 and full.counts["parsed"] == 31  # only the 5 new or changed files were read
    assert inc_table.set_index("file_name").loc["W_00002_50_ivy_M_000002.json", "R_id"] == 10002
    assert "W_00004_50_ivy_M_000004.json" not in set(inc_table.file_name)
    assert in_duckdb.counts == in_pandas.counts and in_duckdb.counts["parsed"] == 5
    pd.testing.assert_frame_equal(in_duckdb.added, in_pandas.added)
    assert set(map(tuple, in_duckdb.removed.to_numpy())) == set(map(tuple, in_pandas.removed.to_numpy())) == {
        ("Train", "W_00001_50_ivy_M_000001.json"), ("Train", "W_00002_50_ivy_M_000002.json"),
        ("Train", "W_00004_50_ivy_M_000004.json"), ("Train", "W_00005_50_ivy_M_000005.json")}
    assert old_schema.counts["parsed"] == 31 and old_schema.counts["previous_rows"] == 0  # parsed again, replaced
    # The data version: the listing the rows were parsed from (and the quarantine), however it was read.
    assert in_duckdb.version == in_pandas.version == old_schema.version
    assert in_duckdb.version == label_changes(raw, workers=1, listing=fingerprint(
        [raw / "training_label", raw / "validation_label"])).version
    os.utime(changed, ns=(stamp + 10**9, stamp + 10**9))  # touched: same content, a new version of the listing
    assert label_changes(raw, workers=1).version != in_duckdb.version
    os.utime(changed, ns=(stamp, stamp))
    # Stored rows come back from DuckDB as floats where an integer column has gaps: still matched.
    stored = inc_table.astype({c: "float64" for c in ("Q3", "E_id", "R_id")})
    assert label_changes(raw, stored, inc_quarantine, workers=1).counts["parsed"] == 0
    assert _label_files(tmp_path)[2]["parsed"] == 0


def test_a_kept_listing_reads_like_the_folder_itself(tmp_path):
    """The listing raw_data_sensor keeps for its run (fingerprint → file → run) classifies every
    entry as listing the folder does: files (a link to a file is that file), hidden entries,
    sub-folders and broken links quarantined with their reason; and its digest is unchanged."""
    from fashion_assets.core.common.fingerprint import fingerprint, load_listing, save_listing
    from fashion_assets.core.tables.scanning import list_entries

    folder = tmp_path / "validation_label"
    folder.mkdir()
    for k in range(5):
        (folder / f"W_0000{k}_50_ivy_M_00000{k}.json").write_text("{}" * k)
    (folder / ".hidden.json").write_text("{}")
    (folder / "sub").mkdir()
    (folder / "link.json").symlink_to(folder / "W_00003_50_ivy_M_000003.json")
    (folder / "broken.json").symlink_to(tmp_path / "gone.json")
    (folder / "naïve name.json").write_text("{}")
    listing = fingerprint([folder])
    save_listing(listing, tmp_path / "kept.npz")
    kept = load_listing(tmp_path / "kept.npz")
    assert kept.digest == listing.digest and kept.entries == 10
    direct = list_entries(folder, with_stat=True)
    via_listing = list_entries(folder, with_stat=True, entries=kept.folders["validation_label"])
    assert [list(map(list, zip(*direct[0])))] == [list(map(list, zip(*via_listing[0])))]
    assert direct[1] == via_listing[1] and len(direct[1]) == 3
    files = dict(zip(direct[0][0], direct[0][1]))
    assert files["link.json"] == 6 and len(files) == 7  # the link's size is its target's
