import pytest

from fashion_assets.core.tables.filenames import FilenameError, parse_image_name, parse_label_name


@pytest.mark.parametrize("name, expected", [
    ("W_01752_00_metrosexual_M.jpg", ("W", "01752", "00", "metrosexual", "M", "metrosexual_M")),
    ("T_00004_90_hiphop_M.jpg", ("T", "00004", "90", "hiphop", "M", "hiphop_M")),
    ("W_00004_50_ivy_M.jpg", ("W", "00004", "50", "ivy", "M", "ivy_M")),
    ("T_21988_70_hippee_M.jpg", ("T", "21988", "70", "hippie", "M", "hippie_M")),
])
def test_good_image_names(name, expected):
    p = parse_image_name(name)
    assert (p.prefix, p.image_id, p.era, p.style, p.sex, p.class_label) == expected
    assert p.style_known


def test_misspelling_is_normalised_but_the_raw_name_is_kept():
    p = parse_image_name("T_21988_70_hippee_M.jpg")
    assert p.style == "hippie" and p.style_raw == "hippee"
    assert p.jpg_name == "T_21988_70_hippee_M.jpg"  # joins must use the name as written


@pytest.mark.parametrize("name, reason", [
    ("IMG_0001.jpg", "expected 5 '_'-separated parts"),
    ("W_1234_50_ivy_M.jpg", "imageID '1234' is not 5 digits"),
    ("X_12345_50_ivy_M.jpg", "prefix 'X' is not W or T"),
    ("W_12345_33_ivy_M.jpg", "era '33' is not one of"),
    ("W_12345_50_ivy_X.jpg", "sex 'X' is not W or M"),
    ("W_12345_50_iv1_M.jpg", "style 'iv1' is not alphabetic"),
    ("W_12345_50_ivy_M.png", "extension is not .jpg"),
    # Labels join images on the exact file name: a name that differs in case or extension could
    # never be reached by its labels, so it is quarantined with the name to rename it to.
    ("W_08957_19_normcore_W.JPG", "canonical form .*rename it to W_08957_19_normcore_W.jpg"),
    ("W_08957_19_normcore_W.jpeg", "rename it to W_08957_19_normcore_W.jpg"),
    ("w_08957_19_normcore_w.jpg", "rename it to W_08957_19_normcore_W.jpg"),
    ("W_０８９５７_19_normcore_W.jpg", "imageID '０８９５７' is not 5 digits"),  # full-width digits
])
def test_bad_image_names_say_which_part_is_wrong(name, reason):
    with pytest.raises(FilenameError, match=reason.replace("(", r"\(")):
        parse_image_name(name)


def test_well_formed_name_with_unknown_style_parses_but_is_flagged():
    assert not parse_image_name("W_12345_70_hipster_W.jpg").style_known
    assert not parse_image_name("W_12345_50_ivy_W.jpg").style_known  # ivy is a men's class only


def test_label_names():
    p = parse_label_name("W_27750_60_mods_M_146696.json")
    assert (p.image_id, p.style, p.sex, p.survey_id) == ("27750", "mods", "M", "146696")
    assert p.jpg_name == "W_27750_60_mods_M.jpg"
    assert parse_label_name("W_73918_70_hippee_W_019532.json").jpg_name == "W_73918_70_hippee_W.jpg"


@pytest.mark.parametrize("name, reason", [
    ("W_12345_50_ivy_M.json", "expected 6"),
    ("survey_0001.json", "expected 6"),
    ("W_12345_50_ivy_M_12a45.json", "surveyID '12a45' is not numeric"),
    ("W_12345_50_ivy_M_123456.txt", "extension is not .json"),
    ("w_12345_50_ivy_m_123456.json", "rename it to W_12345_50_ivy_M_123456.json"),
    ("W_12345_50_ivy_M_１２３.json", "surveyID '１２３' is not numeric"),
])
def test_bad_label_names(name, reason):
    with pytest.raises(FilenameError, match=reason):
        parse_label_name(name)
