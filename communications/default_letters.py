"""The wording a practice's letters have until the practice writes its own.

Bodies are plain text: a blank line starts a new paragraph, a single line break stays a
line break. The greeting is part of the body; the letterhead, date, addresses, "Re:"
line and the signature are added around it (templates/communications/letter.html).
Subjects carry initials only: an email subject is seen in inbox lists.
"""

from dataclasses import dataclass

from .models import LetterKind


@dataclass(frozen=True)
class DefaultLetter:
    subject: str
    body: str
    # When the letter goes out, for the template editor's list.
    when: str


CONSULT_SCHEDULED = DefaultLetter(
    subject="Consultation scheduled for your patient {{ patient.initials }}",
    body="""Dear {{ recipient.salutation }},

Thank you for referring {{ patient.name }} to {{ practice.name }}. We have scheduled a \
consultation for {{ appointment.date|date:"l, F j, Y" }}{% if appointment.time %} at \
{{ appointment.time }}{% endif %}{% if surgeon.last_name %} with Dr. {{ surgeon.last_name }}\
{% endif %}.

Reason for referral: {{ referral.case_type }}{% if referral.reason %} — {{ referral.reason }}\
{% endif %}

If you have recent radiographs, a medical history or a medication list for \
{{ patient.first_name }}, please send them to us before the visit. We will write to you \
again after the consultation with our findings and treatment recommendation.

Thank you for your confidence in our care.""",
    when="When the consultation is booked",
)

CONSULT_COMPLETED = DefaultLetter(
    subject="Consultation report for your patient {{ patient.initials }}",
    body="""Dear {{ recipient.salutation }},

Thank you for referring {{ patient.name }}, whom we saw for consultation on \
{{ consult.date }}.

Findings:
{{ consult.findings|default:"No findings were recorded." }}

{% if consult.recommendation %}Recommendation:
{{ consult.recommendation }}{% endif %}

We have discussed the findings and the treatment options with {{ patient.first_name }}. \
We will keep you informed as treatment proceeds.

Please call us{% if practice.phone %} at {{ practice.phone }}{% endif %} with any questions.""",
    when="When the consultation has taken place",
)

SURGERY_SCHEDULED = DefaultLetter(
    subject="Surgery scheduled for your patient {{ patient.initials }}",
    body="""Dear {{ recipient.salutation }},

{{ patient.name }} has accepted treatment and is scheduled for surgery at our office on \
{{ surgery.date|date:"l, F j, Y" }}{% if appointment.time %} at {{ appointment.time }}\
{% endif %}.{% if surgery.procedure %}
Planned procedure: {{ surgery.procedure }}{% endif %}

Please let us know of any change in {{ patient.first_name }}'s medical history or \
medications before that date, and hold any planned restorative work in the surgical area \
until healing is complete.

We will write to you again once the procedure has been completed.""",
    when="When the surgery is booked",
)

POSTOP_CONCLUDED = DefaultLetter(
    subject="Post-operative care completed for your patient {{ patient.initials }}",
    body="""Dear {{ recipient.salutation }},

{{ patient.name }} has completed post-operative care at our office following surgery on \
{{ surgery.date }}.{% if surgery.procedure %}
Procedure performed: {{ surgery.procedure }}{% endif %}

{% if followup.plan %}Follow-up care plan:
{{ followup.plan }}{% else %}No further visits with us are planned.{% endif %}

{{ patient.first_name }} may now return to your care for routine and restorative \
dentistry. Thank you for the opportunity to care for your patient; we look forward to \
working with you again.""",
    when="When the case is closed after its surgery",
)

POSTOP_UPDATE = DefaultLetter(
    subject="Post-operative update for your patient {{ patient.initials }}",
    body="""Dear {{ recipient.salutation }},

It has now been {{ postop.days }} days since {{ patient.name }} had surgery at our \
office on {{ surgery.date }}.{% if surgery.procedure %}
Procedure: {{ surgery.procedure }}{% endif %}

{% if postop.note %}At the most recent post-operative visit: {{ postop.note }}\
{% else %}{{ patient.first_name }} remains in the post-operative healing period. We will \
contact you should anything require your attention.{% endif %}

Thank you for allowing us to share in {{ patient.first_name }}'s care.""",
    when="At the set number of days after surgery (see Settings)",
)

DEFAULT_LETTERS: dict[str, DefaultLetter] = {
    LetterKind.CONSULT_SCHEDULED: CONSULT_SCHEDULED,
    LetterKind.CONSULT_COMPLETED: CONSULT_COMPLETED,
    LetterKind.SURGERY_SCHEDULED: SURGERY_SCHEDULED,
    LetterKind.POSTOP_CONCLUDED: POSTOP_CONCLUDED,
    LetterKind.POSTOP_UPDATE: POSTOP_UPDATE,
}


def default_letter(kind: str) -> DefaultLetter:
    return DEFAULT_LETTERS[LetterKind(kind)]
