import datetime as dt
from collections import Counter

import pytest
from _html import parse

from services.survey.instruments import load_instrument
from services.survey.web.render import (
    field_id,
    parse_form,
    read_navigation,
    render_form_page,
    render_invitation_email,
    render_link_error,
    render_reminder_email,
    render_saved,
    render_thank_you,
)

ACTION = "/s/abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


@pytest.fixture(scope="module")
def us():
    return load_instrument("user_satisfaction")


def page(us, number, answers=None, errors=None, **kw):
    return render_form_page(
        us, page=number, answers=answers or {}, errors=errors or {}, action_url=ACTION, **kw
    )


def assert_every_control_labelled(root):
    ids = Counter(e.attrs["id"] for e in root.iter() if "id" in e.attrs)
    assert [i for i, n in ids.items() if n > 1] == []  # ids unique
    label_for = {e.attrs.get("for") for e in root.find_all("label")}
    controls = [
        e
        for e in root.iter()
        if e.tag in ("textarea", "select")
        or (e.tag == "input" and e.attrs.get("type") not in ("hidden", "submit"))
    ]
    assert controls
    for control in controls:
        assert control.attrs.get("id") in label_for, control.attrs
    for label in root.find_all("label"):
        assert label.text.strip()


def test_page_skeleton(us):
    root = parse(page(us, 1))
    html = root.find_all("html")[0]
    assert html.attrs["lang"] == "en-GB"
    assert (
        root.find_all("meta", name="viewport")[0].attrs["content"].startswith("width=device-width")
    )
    title = root.find_all("title")[0].text
    assert title == "ICT services, factors 1 to 10 (page 1 of 4) – ICT user satisfaction survey"
    skip = root.find_all("a")[0]
    assert skip.attrs["href"] == "#main" and skip.text == "Skip to main content"
    assert root.find_all("main")[0].attrs["id"] == "main"
    progress = root.find_all("progress")[0]
    assert (progress.attrs["value"], progress.attrs["max"]) == ("1", "4")
    assert "Page 1 of 4" in root.find_all("main")[0].text
    form = root.find_all("form")[0]
    assert form.attrs["method"] == "post" and form.attrs["action"] == ACTION
    assert not root.find_all("script")
    buttons = {(b.attrs["name"], b.attrs["value"]): b.text for b in root.find_all("button")}
    assert buttons == {
        ("action", "continue"): "Save and continue",
        ("action", "save"): "Save and come back later",
    }
    assert {b.attrs["value"] for b in parse(page(us, 2)).find_all("button")} == {
        "continue",
        "back",
        "save",
    }


def test_each_factor_is_a_fieldset_with_two_labelled_radio_groups(us):
    root = parse(page(us, 1))
    factors = [f for f in root.find_all("fieldset") if "factor" in f.attrs.get("class", "")]
    assert [f.find_all("legend")[0].text for f in factors] == [
        us.factors[i].label for i in range(10)
    ]
    for factor in factors:
        inner = [f for f in factor.find_all("fieldset") if f is not factor]
        assert [f.find_all("legend")[0].text for f in inner] == [
            "How satisfied are you?",
            "How important is this to you?",
        ]
        for group in inner:
            radios = group.find_all("input", type="radio")
            values = [r.attrs["value"] for r in radios]
            assert values == ["1", "2", "3", "4", "5", "6", "7", ""]
            assert len({r.attrs["name"] for r in radios}) == 1
    sat = root.find_all("fieldset", id=field_id("S1.satisfaction"))[0]
    labels = [label.text for label in sat.find_all("label")]
    assert labels[0] == "1 Very dissatisfied" and labels[6] == "7 Very satisfied"
    assert labels[7] == "Does not apply to me"
    assert_every_control_labelled(root)


@pytest.mark.parametrize("number", [1, 2, 3])
def test_every_radio_has_a_label(us, number):
    root = parse(page(us, number))
    label_for = {e.attrs.get("for") for e in root.find_all("label")}
    radios = root.find_all("input", type="radio")
    assert radios
    assert all(r.attrs["id"] in label_for for r in radios)
    assert_every_control_labelled(root)


def test_answers_are_shown_checked_and_escaped(us):
    answers = {"S1.satisfaction": 5, "overall": 6, "attr.role": "Other", "comment": "<b>hi</b>"}
    html1 = page(us, 1, answers)
    root = parse(html1)
    checked = [r for r in root.find_all("input", type="radio") if "checked" in r.attrs]
    assert [(r.attrs["name"], r.attrs["value"]) for r in checked] == [("S1.satisfaction", "5")]
    html3 = page(us, 3, answers)
    assert "&lt;b&gt;hi&lt;/b&gt;" in html3 and "<b>hi</b>" not in html3
    textarea = parse(html3).find_all("textarea")[0]
    assert textarea.attrs["name"] == "comment"
    assert textarea.attrs["aria-describedby"] == "f-comment-hint"


def test_errors_summarised_with_links_and_shown_at_the_field(us):
    answers = {"S3.satisfaction": 8, "S3.importance": 3}
    errors = us.validate(answers, partial=False)
    html = page(us, 1, answers, errors)
    root = parse(html)
    assert root.find_all("title")[0].text.startswith("Error: ")
    summary = next(d for d in root.find_all("div") if d.attrs.get("class") == "error-summary")
    assert summary.find_all("h2")[0].text == "There is a problem"
    links = [(a.attrs["href"], a.text) for a in summary.find_all("a")]
    assert links == [
        ("#f-S3-satisfaction-1", errors["S3.satisfaction"]),
        (f"{ACTION}?page=3#f-overall-1", "Select a rating for overall satisfaction"),
        (
            f"{ACTION}?page=3#f-improvement-1",
            "Select a rating for how the service has changed over the last year",
        ),
    ]
    # The link target exists on this page.
    assert root.find_all("input", id="f-S3-satisfaction-1")
    group = root.find_all("fieldset", id="f-S3-satisfaction")[0]
    assert group.attrs["aria-invalid"] == "true"
    assert group.attrs["aria-describedby"] == "f-S3-satisfaction-error"
    message = root.find_all("p", id="f-S3-satisfaction-error")[0]
    assert message.text == "Error: " + errors["S3.satisfaction"]
    assert "aria-invalid" not in root.find_all("fieldset", id="f-S3-importance")[0].attrs


def test_text_error_uses_aria_on_textarea(us):
    errors = us.validate({"comment": "x" * 4001}, partial=True)
    root = parse(page(us, 3, {"comment": "x" * 4001}, errors))
    textarea = root.find_all("textarea")[0]
    assert textarea.attrs["aria-invalid"] == "true"
    assert textarea.attrs["aria-describedby"] == "f-comment-hint f-comment-error"
    assert (
        "You can enter up to 4,000 characters." in root.find_all("p", id="f-comment-hint")[0].text
    )


def test_organisation_lists_replace_defaults_and_long_lists_use_a_select(us):
    html = page(us, 3, attribute_options={"location": ["Civic Centre", "Depot"]})
    root = parse(html)
    values = [r.attrs["value"] for r in root.find_all("input", name="attr.location")]
    assert values == ["Civic Centre", "Depot", ""]
    many = [f"Site {i}" for i in range(1, 31)]
    root = parse(page(us, 3, attribute_options={"location": many}))
    select = root.find_all("select", name="attr.location")[0]
    assert [o.attrs["value"] for o in select.find_all("option")] == ["", *many]
    assert_every_control_labelled(root)


def test_check_page_lists_answers_with_change_links_and_send_button(us):
    answers = {"S1.satisfaction": 5, "S1.importance": 6, "overall": 7}
    root = parse(page(us, 4, answers))
    assert root.find_all("title")[0].text.startswith("Check your answers and send (page 4 of 4)")
    rows = {r.find_all("th")[0].text: r for r in root.find_all("tr")[1:] if r.find_all("th")}
    first = rows["Working relationships"]
    assert first.find_all("td")[0].text == (
        "Satisfaction: 5 (slightly satisfied); Importance: 6 (important)"
    )
    assert first.find_all("a")[0].attrs["href"] == f"{ACTION}?page=1#f-S1-satisfaction-1"
    assert rows["Overall, how satisfied are you with the ICT service?"].find_all("td")[0].text == (
        "7 (very satisfied)"
    )
    assert {b.attrs["value"] for b in root.find_all("button")} == {"submit", "back", "save"}
    with pytest.raises(ValueError):
        page(us, 5)


def test_other_pages(us):
    thanks = parse(render_thank_you(us, organisation_name="Exampleshire Council"))
    assert thanks.find_all("h1")[0].text == "Thank you, your answers have been sent"
    saved = render_saved(us, resume_url=ACTION, closes_on=dt.date(2025, 3, 7))
    assert "The survey closes on 7 March 2025." in saved and f'href="{ACTION}"' in saved
    bodies = {
        reason: render_link_error(reason) for reason in ("expired", "closed", "unknown", "used")
    }
    for reason, body in bodies.items():
        root = parse(body)
        assert root.find_all("html")[0].attrs["lang"] == "en-GB"
        assert root.find_all("title")[0].text and root.find_all("h1")
        assert "@" not in root.find_all("main")[0].text  # never names an address
    assert parse(bodies["used"]).find_all("h1")[0].text == "These answers have already been sent"


def test_emails_contain_link_and_opt_out(us):
    link, opt_out = "https://survey.example/s/TOKEN", "https://survey.example/opt-out/TOKEN"
    invite = render_invitation_email(
        survey_title=us.title,
        organisation_name="Exampleshire Council",
        link_url=link,
        opt_out_url=opt_out,
        closes_on=dt.date(2025, 3, 7),
    )
    assert (
        invite.subject
        == "Exampleshire Council: please take part in the ICT user satisfaction survey"
    )
    assert link in invite.text and opt_out in invite.text
    assert "The survey closes on 7 March 2025.\n\nYour answers are anonymous" in invite.text
    assert f'href="{link}"' in invite.html and f'href="{opt_out}"' in invite.html
    assert parse(invite.html).find_all("html")[0].attrs["lang"] == "en-GB"
    reminder = render_reminder_email(
        survey_title=us.title,
        organisation_name="Exampleshire Council",
        link_url=link,
        opt_out_url=opt_out,
        closes_on=dt.date(2025, 3, 7),
    )
    assert reminder.subject.startswith("Reminder:") and "closes 7 March 2025" in reminder.subject
    assert link in reminder.text and opt_out in reminder.html


class FakeFormData:
    """Shaped like Starlette's FormData (keys + getlist)."""

    def __init__(self, items):
        self._items = items

    def keys(self):
        return [k for k, _ in self._items]

    def getlist(self, key):
        return [v for k, v in self._items if k == key]


def test_parse_form_and_navigation(us):
    form = FakeFormData(
        [
            ("page", "3"),
            ("action", "save"),
            ("overall", "6"),
            ("improvement", "9"),
            ("nps", ""),
            ("attr.role", " Other "),
            ("comment", "line 1\r\nline 2"),
            ("S1.satisfaction", "3"),
            ("S1.satisfaction", "4"),
            ("sneaky", "x"),
            ("S2.satisfaction", "abc"),
        ]
    )
    answers = parse_form(us, form)
    assert answers == {
        "overall": 6,
        "improvement": 9,
        "attr.role": "Other",
        "comment": "line 1\nline 2",
        "S1.satisfaction": ["3", "4"],
        "sneaky": "x",
        "S2.satisfaction": "abc",
    }
    errors = us.validate(answers, partial=True)
    assert set(errors) == {"improvement", "S1.satisfaction", "sneaky", "S2.satisfaction"}
    nav = read_navigation(us, form)
    assert (nav.action, nav.page) == ("save", 3)
    assert read_navigation(us, {"action": "delete", "page": "99"}).page == 4
    assert read_navigation(us, {}).action == "continue"
    assert parse_form(us, [("overall", "2")]) == {"overall": 2}


def test_other_instruments_render_labelled(us):
    for kind in ("user_skills", "sdma"):
        instrument = load_instrument(kind)
        for number in range(1, instrument.page_count):
            assert_every_control_labelled(
                parse(
                    render_form_page(
                        instrument, page=number, answers={}, errors={}, action_url=ACTION
                    )
                )
            )
