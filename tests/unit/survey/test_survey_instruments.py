import pytest

from services.survey.instruments import (
    InstrumentDefinitionError,
    load_instrument,
)
from services.survey.instruments.loader import parse_instrument

FACTOR_NAMES = {
    "S1": "Working relationships",
    "S2": "Political and senior management commitment",
    "S3": "Downtime",
    "S4": "Technical competence of ICT support staff",
    "S5": "Customer service skills of ICT support staff",
    "S6": "Responsiveness of ICT staff to changing needs",
    "S7": "Ease of contacting ICT support staff",
    "S8": "Speed of response to requests for assistance",
    "S9": "Accuracy of problem diagnosis by ICT support staff",
    "S10": "Ability of ICT support staff to fix problems",
    "S11": "ICT staff understanding the users' business",
    "S12": "Communication channels",
    "S13": "Resource plans for new systems and developments",
    "S14": "Promptness of ICT support staff",
    "S15": "Lead times",
    "S16": "Effectiveness of monitoring the ICT unit's performance",
    "S17": "Fitness for purpose of the hardware provided",
    "S18": "Fitness for purpose of office systems provided",
    "S19": "Fitness for purpose of the business systems provided",
    "S20": "The quality of training provided",
}


@pytest.fixture(scope="module")
def us():
    return load_instrument("user_satisfaction")


def complete_answers():
    answers = {f"S{i}.{m}": 4 for i in range(1, 21) for m in ("satisfaction", "importance")}
    answers |= {"overall": 5, "improvement": 4}
    return answers


def test_user_satisfaction_has_the_twenty_factors_with_domain_names(us):
    assert {f.value: f.label for f in us.factors} == FACTOR_NAMES
    for key in FACTOR_NAMES:
        for measure in ("satisfaction", "importance"):
            q = us.question(f"{key}.{measure}")
            assert q is not None and q.type == "rating" and (q.min, q.max) == (1, 7)


def test_user_satisfaction_canonical_keys(us):
    assert {"overall", "improvement", "nps", "comment"} <= set(us.keys)
    assert set(us.attributes) == {"location", "device_type", "mode_of_working", "role"}
    assert {f"attr.{a}" for a in us.attributes} <= set(us.keys)
    assert us.question("nps").type == "nps" and not us.question("nps").required
    assert (us.question("nps").min, us.question("nps").max) == (0, 10)
    assert us.question("comment").max_length == 4000
    assert us.question("improvement").point_label(4) == "About the same"
    assert len(us.keys) == 40 + 3 + 4 + 1


def test_pages_split_factors_then_overall_and_a_check_page(us):
    assert us.page_count == 4  # three question pages + check and send
    assert us.page(1).keys[0] == "S1.satisfaction" and us.page(1).keys[-1] == "S10.importance"
    assert us.page(2).keys[0] == "S11.satisfaction" and us.page(2).keys[-1] == "S20.importance"
    assert us.page_of("comment") == 3 and us.page_of("attr.role") == 3


def test_other_instruments_load():
    skills = load_instrument("user_skills")
    assert [k for k in skills.keys if k[0] in "LP"] == [
        "L1",
        "L2",
        "L3",
        "L4",
        "L5",
        "L6",
        "P1",
        "P2",
        "P3",
        "P4",
        "P5",
    ]
    sdma = load_instrument("sdma")
    areas = [q for q in sdma.questions if q.key.startswith("M")]
    assert len(areas) == 9
    assert all((q.min, q.max) == (1, 5) and q.type == "rating" for q in areas)
    with pytest.raises(KeyError):
        load_instrument("nope")


def test_valid_complete_answers_pass(us):
    assert us.validate(complete_answers(), partial=False) == {}


@pytest.mark.parametrize("bad", [0, 8, "0", "8", "x", 4.5, True])
def test_rating_outside_range_is_rejected_with_the_range(us, bad):
    errors = us.validate({"S3.satisfaction": bad}, partial=True)
    assert errors == {
        "S3.satisfaction": "The rating for satisfaction with Downtime must be a whole number "
        "from 1 (very dissatisfied) to 7 (very satisfied)"
    }


def test_rating_bounds_are_accepted(us):
    assert us.validate({"S3.satisfaction": 1, "S3.importance": "7"}, partial=True) == {}


def test_unknown_factor_and_unknown_keys(us):
    errors = us.validate(
        {"S21.satisfaction": 3, "S2.speed": 3, "favourite_colour": "blue"}, partial=True
    )
    assert errors == {
        "S21.satisfaction": "There is no factor S21 in this survey: factors are S1 to S20",
        "S2.speed": "'speed' is not a rating of S2: use S2.satisfaction or S2.importance",
        "favourite_colour": "'favourite_colour' is not a question in this survey",
    }


def test_oversized_comment(us):
    assert us.validate({"comment": "x" * 4000}, partial=True) == {}
    errors = us.validate({"comment": "x" * 4001}, partial=True)
    assert errors == {"comment": "Your comment must be 4,000 characters or fewer (it has 4,001)"}
    # A CRLF line break counts as one character, as the browser counts it.
    assert us.validate({"comment": "x" * 3998 + "\r\n"}, partial=True) == {}


def test_option_must_be_in_default_or_organisation_list(us):
    assert us.validate({"attr.location": "Main office"}, partial=True) == {}
    assert us.validate({"attr.location": "Mars"}, partial=True) == {
        "attr.location": "Select where you work from the list"
    }
    own = {"location": ["Civic Centre", "Depot"]}
    assert us.validate({"attr.location": "Depot"}, partial=True, attribute_options=own) == {}
    assert "attr.location" in us.validate(
        {"attr.location": "Main office"}, partial=True, attribute_options=own
    )
    with pytest.raises(ValueError, match="not a breakdown attribute"):
        us.with_attribute_options({"shoe_size": ["9"]})


def test_partial_skips_required_final_requires_them(us):
    assert us.validate({"S1.satisfaction": 5, "S1.importance": 6}, partial=True) == {}
    errors = us.validate({"S1.satisfaction": 5}, partial=False)
    assert errors == {
        "S1.importance": "Select how important Working relationships is to you, or answer neither",
        "overall": "Select a rating for overall satisfaction",
        "improvement": "Select a rating for how the service has changed over the last year",
    }
    assert list(errors) == ["S1.importance", "overall", "improvement"]  # form order


def test_multiple_values_rejected(us):
    assert us.validate({"overall": ["3", "4"]}, partial=True) == {
        "overall": "Select only one answer for overall satisfaction"
    }


def test_clean_and_merge_page(us):
    cleaned = us.clean({"overall": "5", "comment": "a\r\nb", "attr.role": " Other "})
    assert cleaned == {"overall": 5, "comment": "a\nb", "attr.role": "Other"}
    stored = {"S1.satisfaction": 3, "comment": "old", "overall": 2}
    merged = us.merge_page(stored, {"overall": 6}, page=3)
    assert merged == {"S1.satisfaction": 3, "overall": 6}  # comment cleared on page 3


def test_definition_errors_name_the_place():
    with pytest.raises(InstrumentDefinitionError, match="duplicate question key 'a'"):
        parse_instrument(
            {
                "kind": "x",
                "title": "X",
                "scales": {"s": {"min": 1, "max": 3, "labels": {1: "lo", 3: "hi"}}},
                "pages": [
                    {
                        "title": "P",
                        "sections": [
                            {
                                "title": "S",
                                "items": [
                                    {
                                        "question": {
                                            "key": "a",
                                            "type": "rating",
                                            "scale": "s",
                                            "label": "A",
                                            "error_name": "a",
                                        }
                                    },
                                    {
                                        "question": {
                                            "key": "a",
                                            "type": "rating",
                                            "scale": "s",
                                            "label": "A",
                                            "error_name": "a",
                                        }
                                    },
                                ],
                            }
                        ],
                    }
                ],
            }
        )
