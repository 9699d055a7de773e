"""The people of a busy Monday, for locust (run by bench/load/run.py; see docs/performance.md).

- front desk: opens the intake form, looks an office up, saves a new patient's referral
  (the form as a browser posts it, with its CSRF token);
- coordinators: open a fresh case and walk it, step by step, through consult scheduled,
  consult completed, treatment accepted and surgery scheduled (three of those write a
  letter to the referring office);
- administrators: the dashboard, the referrer health board, the alerts, the reports page
  and a report's CSV export;
- an integration (API key): lists referrals changed lately and the offices, creates a
  referral with its patient and books its consult (a letter).

Logged-in sessions, the API key and the ids come from the runner (LOAD_DATA, a JSON file):
the runner logs the people in server-side, so the lockout and login limits never see 50
logins from one address.
"""

import datetime as dt
import itertools
import json
import os
import random
import re
import uuid
from pathlib import Path

from locust import HttpUser, between, task

DATA = json.loads(Path(os.environ["LOAD_DATA"]).read_text())
CASES = iter(DATA["cases"])
SESSIONS = {role: itertools.cycle(keys) for role, keys in DATA["sessions"].items()}
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
FIRST = ["Riley", "Jordan", "Avery", "Quinn", "Morgan", "Casey", "Rowan", "Emery", "Sage"]
LAST = ["Loadtest", "Benchley", "Samplewood", "Mockford", "Trialson", "Proberts"]


def synthetic_patient() -> dict:
    birth = dt.date(1950, 1, 1) + dt.timedelta(days=random.randrange(0, 25000))
    return {
        "first_name": random.choice(FIRST),
        "last_name": f"{random.choice(LAST)}-{uuid.uuid4().hex[:6]}",
        "date_of_birth": birth.strftime("%m/%d/%Y"),
        "phone": f"555-{random.randrange(100, 999)}-{random.randrange(1000, 9999)}",
    }


def local_input(days: int, hour: int) -> str:
    when = dt.datetime.now() + dt.timedelta(days=days)
    return when.replace(hour=hour, minute=30).strftime("%Y-%m-%dT%H:%M")


class Person(HttpUser):
    abstract = True
    role = ""
    wait_time = between(1, 3)

    def on_start(self):
        self.client.cookies.set(DATA["session_cookie"], next(SESSIONS[self.role]))

    def page(self, url: str, name: str | None = None, **kwargs):
        with self.client.get(url, name=name or url, catch_response=True, **kwargs) as r:
            if r.status_code != 200:
                r.failure(f"{r.status_code} (expected 200)")
            elif "/login/" in r.url:
                r.failure("sent to the login page")
            return r

    def post_form(self, url: str, data: dict, name: str, token_page: str, page_name: str):
        """Post as the browser does: the token of the form it shows, its cookie."""
        token = TOKEN.search(self.page(token_page, name=page_name).text or "")
        if not token:
            return None
        with self.client.post(
            url,
            data={"csrfmiddlewaretoken": token.group(1), **data},
            headers={"Referer": self.host + token_page},
            name=name,
            allow_redirects=False,
            catch_response=True,
        ) as r:
            if r.status_code != 302:
                r.failure(f"{r.status_code} (expected a redirect to the case)")
            return r


class FrontDesk(Person):
    role = "front_desk"
    weight = 4

    @task(3)
    def intake(self):
        office, provider = random.choice(DATA["pairs"])
        self.post_form(
            "/intake/",
            {
                "patient": "",
                "chart_number": "",
                **synthetic_patient(),
                "source_type": "doctor",
                "referring_office": office,
                "referring_provider": provider,
                "case_type": "third_molars",
                "urgency": random.choice(["routine", "soon"]),
                "received_on": DATA["today"],
                "reason": "#17 and #32 impacted",
                "then": "case",
            },
            name="/intake/",
            token_page="/intake/",
            page_name="/intake/",
        )

    @task(1)
    def office_lookup(self):
        self.page(
            f"/intake/offices/?office_q={random.choice(['ma', 'den', 'sm', 'fam', 'or'])}",
            name="/intake/offices/?office_q=",
            headers={"HX-Request": "true"},
        )


class Coordinator(Person):
    role = "coordinator"
    weight = 3

    steps = [
        ("consult_scheduled", lambda: {"scheduled_for": local_input(3, 10)}),
        (
            "consult_completed",
            lambda: {"findings": "Impacted #17, #32", "recommendation": "Extraction under IV"},
        ),
        ("treatment_accepted", lambda: {"note": "Prefers mornings"}),
        (
            "surgery_scheduled",
            lambda: {"scheduled_for": local_input(14, 8), "procedure": "Extraction #17, #32"},
        ),
    ]

    def on_start(self):
        super().on_start()
        self.case = None
        self.step = 0

    @task
    def next_step(self):
        if self.case is None or self.step >= len(self.steps):
            self.case = next(CASES, None)
            self.step = 0
            if self.case is None:
                self.page("/cases/", name="/cases/")
                return
        kind, data = self.steps[self.step]
        detail = f"/cases/{self.case}/"
        self.post_form(
            f"{detail}steps/{kind}/",
            data(),
            name=f"/cases/[id]/steps/{kind}/",
            token_page=detail,
            page_name="/cases/[id]/",
        )
        self.step += 1


class Administrator(Person):
    role = "admin"
    weight = 2

    @task(3)
    def dashboard(self):
        self.page("/", name="/ (dashboard)")

    @task(3)
    def board(self):
        self.page("/referrers/health/")

    @task(1)
    def alerts(self):
        self.page("/alerts/")

    @task(1)
    def reports(self):
        self.page("/reports/?report=referral-volume", name="/reports/")

    @task(1)
    def export(self):
        report = random.choice(["referral-volume", "case-acceptance", "rolling-trend"])
        self.page(f"/reports/{report}.csv", name="/reports/[report].csv")


class Integration(HttpUser):
    weight = 1
    wait_time = between(1, 3)

    def on_start(self):
        self.client.headers["Authorization"] = f"Bearer {DATA['api_key']}"

    def call(self, method: str, url: str, name: str, expected: int, **kwargs):
        with self.client.request(method, url, name=name, catch_response=True, **kwargs) as r:
            if r.status_code != expected:
                r.failure(f"{r.status_code} (expected {expected}): {r.text[:200]}")
            return r

    @task(3)
    def changed_lately(self):
        since = (dt.datetime.now(dt.UTC) - dt.timedelta(days=7)).isoformat()
        self.call(
            "GET",
            "/api/v1/referrals/",
            "/api/v1/referrals/?updated_since=",
            200,
            params={"updated_since": since, "ordering": "updated_at"},
        )

    @task(1)
    def offices(self):
        self.call("GET", "/api/v1/offices/", "/api/v1/offices/", 200)

    @task(2)
    def create_and_book(self):
        office, provider = random.choice(DATA["pairs"])
        patient = synthetic_patient()
        birth = dt.datetime.strptime(patient["date_of_birth"], "%m/%d/%Y").date()
        created = self.call(
            "POST",
            "/api/v1/referrals/",
            "/api/v1/referrals/",
            201,
            json={
                "patient_data": {
                    "first_name": patient["first_name"],
                    "last_name": patient["last_name"],
                    "date_of_birth": birth.isoformat(),
                    "chart_number": f"L-{uuid.uuid4().hex[:10]}",
                },
                "source_type": "doctor",
                "referring_office": office,
                "referring_provider": provider,
                "case_type": "implants",
                "urgency": "routine",
                "received_on": DATA["today"],
                "reason": "Missing #30.",
            },
        )
        if created.status_code != 201:
            return
        when = (dt.datetime.now(dt.UTC) + dt.timedelta(days=5)).replace(microsecond=0)
        self.call(
            "POST",
            f"/api/v1/referrals/{created.json()['id']}/events/",
            "/api/v1/referrals/[id]/events/",
            201,
            json={"kind": "consult_scheduled", "scheduled_for": when.isoformat()},
        )
