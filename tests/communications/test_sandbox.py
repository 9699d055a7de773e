"""The letter template sandbox: what a practice may write, and what is refused and why."""

import datetime as dt

import pytest

from communications.default_letters import DEFAULT_LETTERS
from communications.sandbox import (
    ALLOWED_FILTERS,
    LETTER_VARIABLES,
    MAX_TEMPLATE_CHARS,
    LetterDate,
    TemplateRefused,
    check_template,
    render,
    validate_template,
)


def context(**overrides) -> dict:
    """Every letter variable, filled with a plain value, as rendering.letter_variables does."""
    values: dict = {}
    for path in LETTER_VARIABLES:
        head, _, tail = path.partition(".")
        if tail:
            values.setdefault(head, {})[tail] = f"<{path}>"
        else:
            values[head] = f"<{path}>"
    values["today"] = LetterDate(dt.date(2026, 11, 26))
    values["surgery"]["date"] = LetterDate(dt.date(2026, 12, 3))
    for path, value in overrides.items():
        head, _, tail = path.partition(".")
        values[head][tail] = value
    return values


def test_default_letters_check_and_use_only_letter_variables():
    for kind, letter in DEFAULT_LETTERS.items():
        assert validate_template(letter.subject, letter.body) == [], kind


def test_values_and_the_templates_own_text_are_escaped_in_html():
    out = render(
        "Dear {{ provider.last_name }} <b>&</b>",
        context(**{"provider.last_name": "<script>alert(1)</script>"}),
        html=True,
    )
    assert out == "Dear &lt;script&gt;alert(1)&lt;/script&gt; &lt;b&gt;&amp;&lt;/b&gt;"


def test_plain_text_rendering_escapes_nothing():
    out = render(
        "Re: {{ patient.initials }} & co", context(**{"patient.initials": "O'N"}), html=False
    )
    assert out == "Re: O'N & co"


def test_dates_read_as_words_and_take_the_date_filter():
    ctx = context()
    assert render("{{ today }}", ctx, html=False) == "November 26, 2026"
    assert render('{{ surgery.date|date:"l, F j" }}', ctx, html=False) == "Thursday, December 3"
    # A time format on a date cannot fail a letter: the long form is used.
    assert render('{{ today|date:"H:i" }}', ctx, html=False) == "November 26, 2026"


def test_if_leaves_out_a_sentence_when_a_value_is_empty():
    source = (
        "A.{% if consult.recommendation %} We recommend {{ consult.recommendation }}.{% endif %}"
    )
    assert render(source, context(**{"consult.recommendation": ""}), html=False) == "A."
    assert (
        render(source, context(**{"consult.recommendation": "extraction"}), html=False)
        == "A. We recommend extraction."
    )


def test_whitelisted_filters_work():
    ctx = context(**{"patient.first_name": "jordan", "consult.findings": ""})
    assert render("{{ patient.first_name|title }}", ctx, html=False) == "Jordan"
    assert render("{{ patient.first_name|upper }}", ctx, html=False) == "JORDAN"
    assert render('{{ consult.findings|default:"none" }}', ctx, html=False) == "none"
    ctx = context(**{"postop.note": "a\nb"})
    assert render("{{ postop.note|linebreaksbr }}", ctx, html=True) == "a<br>b"


@pytest.mark.parametrize(
    "source, message",
    [
        ("{{ patient.__class__ }}", "{{ patient.__class__ }} is not a letter variable"),
        ("{{ patient.first_name.__class__.__mro__ }}", "is not a letter variable"),
        ("{% load static %}", "{% load %} is not allowed"),
        ('{% include "x" %}', "{% include %} is not allowed"),
        ('{% extends "base.html" %}', "{% extends %} is not allowed"),
        ("{% url 'home' %}", "{% url %} is not allowed"),
        ("{% csrf_token %}", "{% csrf_token %} is not allowed"),
        ("{% debug %}", "{% debug %} is not allowed"),
        ("{% ssi '/etc/passwd' %}", "{% ssi %} is not allowed"),
        ('{% now "Y" %}', "{% now %} is not allowed"),
        ("{{ settings.SECRET_KEY }}", "{{ settings.SECRET_KEY }} is not a letter variable"),
        ("{{ patient }}", "{{ patient }} is not a letter variable"),
        ("{{ patient.objects }}", "{{ patient.objects }} is not a letter variable"),
        ("{{ patient.first_name|safe }}", "The filter |safe is not allowed"),
        ("{{ patient.first_name|pprint }}", "The filter |pprint is not allowed"),
        ("{{ patient.first_name|ljust:'99999999' }}", "The filter |ljust is not allowed"),
        (
            "{% for i in patient.name %}{% for j in patient.name %}x{% endfor %}{% endfor %}",
            "{% for %} is not allowed",
        ),
        ("{% if settings.DEBUG %}x{% endif %}", "{{ settings.DEBUG }} is not a letter variable"),
        ("{% if patient.name %}x", "never closed"),
        ("{{ patient.name|default:settings.SECRET_KEY }}", "{{ settings.SECRET_KEY }} is not"),
        ("{{ patient.first_nmae }}", "{{ patient.first_nmae }} is not a letter variable"),
    ],
)
def test_a_malicious_or_mistyped_template_is_refused_with_a_clear_message(source, message):
    errors = check_template(source)
    assert errors, source
    assert any(message in error for error in errors), errors
    with pytest.raises(TemplateRefused):
        render(source, context(), html=True)


def test_every_forbidden_tag_is_reported_at_once_with_its_line():
    errors = check_template("Hello\n{% load static %}\n{% include 'x' %}\n{{ x|safe }}")
    only = "only {% if … %} … {% else %} … {% endif %} can be used."
    assert errors == [
        f"Line 2: {{% load %}} is not allowed; {only}",
        f"Line 3: {{% include %}} is not allowed; {only}",
        "Line 4: The filter |safe is not allowed in a letter. Allowed filters: "
        + ", ".join(f"|{f}" for f in ALLOWED_FILTERS)
        + ".",
    ]


def test_all_unknown_variables_are_listed():
    errors = check_template("{{ patient.nickname }} {{ dentist.name }} {{ patient.name }}")
    assert errors == [
        "{{ dentist.name }} is not a letter variable.",
        "{{ patient.nickname }} is not a letter variable. Did you mean {{ patient.name }}?",
    ]


def test_a_huge_template_is_refused():
    errors = check_template("x" * (MAX_TEMPLATE_CHARS + 1))
    assert errors and "too long" in errors[0]


def test_validate_names_subject_and_body():
    errors = validate_template("Hi {{ patient.ssn }}", "")
    assert errors == [
        "Subject: {{ patient.ssn }} is not a letter variable.",
        "Body: write the letter.",
    ]
    assert validate_template("Two\nlines", "ok") == ["Subject: keep the subject on one line."]


def test_rendering_touches_no_database(django_assert_num_queries, db):
    for letter in DEFAULT_LETTERS.values():
        with django_assert_num_queries(0):
            render(letter.subject, context(), html=False)
            render(letter.body, context(), html=True)


def test_the_engine_itself_knows_only_if_and_the_whitelisted_filters():
    # Defence in depth: even without the token check, nothing else would parse.
    from django.template import Template, TemplateSyntaxError

    from communications.sandbox import ENGINE

    [library] = ENGINE.template_builtins
    assert set(library.tags) == {"if"}
    assert set(library.filters) == set(ALLOWED_FILTERS)
    assert ENGINE.template_libraries == {}
    for source in (
        "{% load static %}",
        "{% include 'x' %}",
        "{{ x|safe }}",
        "{% for x in y %}{% endfor %}",
    ):
        with pytest.raises(TemplateSyntaxError):
            Template(source, engine=ENGINE)


def test_a_mistyped_variable_gets_a_suggestion():
    assert check_template("{{ surgeon.credential }}") == [
        "{{ surgeon.credential }} is not a letter variable. Did you mean {{ surgeon.credentials }}?"
    ]
