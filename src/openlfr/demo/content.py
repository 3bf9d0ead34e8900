"""What the demo's people write: an area profile that names its residents, a risk section
that names false alerts, a consultation that asks neutral questions, an objection and its
answer. Realistic text, so the demo shows the gates passing for the right reasons."""

from __future__ import annotations

BOROUGH, WARD = "Lambeth", "Vauxhall"
TITLE = "Vauxhall high street (demo)"

SITES = [
    {"name": "Station forecourt", "street": "Wandsworth Road", "postcode": "SW8 1SR",
     "lat": 51.4952, "lon": -0.1115},
    {"name": "Market square", "street": "Kennington Lane", "postcode": "SE11 5QY",
     "lat": 51.4969, "lon": -0.1089},
]

PURPOSE = ("Locate people on the watchlist who are missing and at risk, or wanted by a "
           "court, in the busiest part of the ward on a market day.")
OFFENCE_CATEGORIES = ["missing person at risk", "wanted by a court"]
INTELLIGENCE_BASIS = ("Three missing-person reports in the last quarter name the station "
                      "area as a place the person was last seen; robbery near the station "
                      "rose this year (ward panel, force data).")
LEGAL_BASIS = "Common law policing powers; force live facial recognition policy v3."
SIGNAGE = ("A-boards at each of the four entrances to the zone, 20 m before the cameras, "
           "and leaflets handed out by officers at each site.")

MOTION = {
    "body": "Lambeth Council", "stance": "conditions",
    "summary": "Asks for four weeks' notice in the ward, consultation with residents rather "
               "than only council bodies, and published results after every deployment.",
    "areas": ["Lambeth/Vauxhall"],
}
MOTION_RESPONSE = ("Notice is published at least 14 days ahead on the public portal, by "
                   "e-mail to subscribers and as a calendar feed; the engagement log must "
                   "show that most people reached were residents, and results are published "
                   "from the engine's own counters after every deployment.")

ENGAGEMENT = [
    {"format": "public_meeting", "audience": "residents", "attendees": 46,
     "met_with": "Vauxhall ward residents' meeting (open to all)",
     "materials": "Leaflet setting out benefits and risks, the equity audit summary",
     "questions_raised": ["Where are my photos kept?", "Who decides who is on the list?"]},
    {"format": "street_stall", "audience": "residents", "attendees": 38,
     "met_with": "Market-day shoppers and residents at a stall on the high street",
     "materials": "Leaflet; the consultation link", "questions_raised": [
         "Will the van be there on market day?"]},
    {"format": "drop_in", "audience": "young_people", "attendees": 17,
     "met_with": "Vauxhall youth club",
     "materials": "Youth club session with the independent advisory group",
     "questions_raised": ["Can I refuse to be scanned?"]},
    {"format": "briefing", "audience": "council_officials", "attendees": 9,
     "met_with": "Lambeth Council community safety team",
     "materials": "Briefing note", "questions_raised": []},
]

AREA_PROFILE = (
    "Vauxhall ward is mainly residential, with about 14,000 residents, many of them young "
    "families and older residents in social housing, a busy high street with a Saturday "
    "market, two secondary schools and a mosque near the station. Residents have named "
    "robbery near the station and young people going missing as concerns at ward panels.")
RISKS = (
    "False alerts may lead to people who are not wanted being stopped; the engine's audit "
    "found no false alert in its searches at this threshold, but that sample is small, so "
    "misidentification remains possible. Residents may feel watched and avoid the high "
    "street, and trust may fall if the deployment is seen as imposed on the ward.")
MITIGATIONS = (
    "Every alert is checked by a trained officer before any approach; faces that match "
    "nobody are never stored; the threshold is at the engine's calibrated default; signs "
    "at every entrance; an advisory group observer attends; results are published from the "
    "engine's counters and the officers' adjudications within a week.")
EQUALITY_IMPACT = (
    "Accuracy can differ by race, sex and age; the threshold is set where the audit found "
    "no difference, and false alerts are recorded by group so any imbalance is published. "
    "Older and disabled people may find signs hard to read: large-print leaflets and "
    "officers at each site explain the process. Religion or belief: head coverings are "
    "never asked to be removed.")
DECISION = ("Proceed with a single-day deployment once every gate passes (the equity audit "
            "only by a published two-person override), publishing the results within seven "
            "days.")

CONSULTATION = {
    "benefits": "Finding people who are missing and at risk, or wanted by a court, more "
                "quickly than officers could by looking for them.",
    "risks": "The cameras see everyone who passes, which affects privacy. False alerts can "
             "lead to people being stopped who are not wanted, and accuracy can differ "
             "between demographic groups, so errors may fall unequally (bias). Some "
             "people may avoid the high street while the cameras are there. Faces that "
             "match nobody are deleted at once; an alert's image is kept for up to 31 days "
             "for checks and complaints, then deleted.",
    "questions": [
        {"text": "What do you think about the use of live facial recognition on the "
                 "high street?"},
        {"text": "How, if at all, would it affect how you use the high street that day?",
         "options": ["I would use it more", "No change", "I would use it less"]},
    ],
}
#: (answer to q2, postcode district): anonymous responses, as residents would give them.
CONSULTATION_RESPONSES = [
    ("No change", "SE11"), ("No change", "SE11"), ("I would use it less", "SE1"),
    ("No change", "SE11"), ("I would use it less", "SE11"), ("I would use it more", "SW8"),
    ("No change", "SE1"), ("I would use it less", "SE11"), ("No change", None),
    ("No change", "SE11"), ("I would use it less", "SE17"), ("No change", "SE11"),
    ("I would use it less", "SW8"), ("No change", "SE11"), ("No change", "SE1"),
    ("I would use it less", "SE11"), ("No change", "SE17"), ("I would use it more", "SE11"),
    ("No change", None), ("I would use it less", "SE11"), ("No change", "SW8"),
    ("No change", "SE11"), ("I would use it less", "SE1"), ("No change", "SE11"),
]
FREE_TEXT_ANSWERS = [
    "Fine if it finds missing kids, but I want to know my face is deleted.",
    "I don't trust it; the last time nobody told us it was coming.",
    "Please put the results online afterwards.",
]

OBJECTION = ("I object: I walk through the station every day and do not want my face "
             "scanned on my way to work.")
OBJECTION_ANSWER = (
    "Thank you. The engine compares each face with the watchlist in memory; a face that "
    "matches nobody is discarded at once and never written anywhere. The deployment is "
    "limited to eight hours on one day, signs are at every entrance, and the results, "
    "including any false alerts, are published afterwards.")
QUESTION = "Will there be an officer I can ask questions at the site?"
QUESTION_ANSWER = ("Yes: officers stand at both sites with leaflets and will answer "
                   "questions; you can also object or ask here at any time.")

REVIEW_SUMMARY = (
    "The deployment ran within its published window; the engine's "
    "single alert was checked by an officer and confirmed; no false alert was recorded. "
    "Objections were answered before authorisation.")

#: The engine has never been audited for equity on labelled data, so the threshold gate
#: fails; the demo goes ahead only by the two-person override, both reasons published.
OVERRIDE_ASKED = (
    "This is a demonstration with sample photographs of public figures, not a live "
    "operation: no member of the public is on the watchlist and no one will be stopped. "
    "The engine has not yet been audited for equity on labelled data; the demo shows what "
    "the public sees when a check is set aside, and the audit is the next step.")
OVERRIDE_COUNTERSIGNED = (
    "Countersigned for the demonstration only: the watchlist holds sample photographs of "
    "public figures, the override is published with both reasons, and no real deployment "
    "may rely on it; an equity audit must be recorded before any operational use.")

#: The demo's ATRS record of its engine (what people write; the engine fills the rest).
ATRS = {
    "name": "Live facial recognition (openlfr demo)",
    "summary": ("Cameras on a marked stretch of Vauxhall high street compare the faces of "
                "passers-by with a short watchlist of people missing and at risk or wanted "
                "by a court. A face that matches no one is counted and discarded at once. "
                "An officer compares every alert with the reference photo before anyone is "
                "approached."),
    "contact_email": "lfr-demo@police.example", "phase": "pre-deployment",
    "organisation": "Demo Police Service", "team": "Live facial recognition unit",
    "senior_responsible_owner": "Assistant Chief Constable, Operations",
    "supplier": "openlfr (open source)",
    "supplier_role": "The engine's code; the supplier has no access to any data.",
    "human_decisions_and_review": ("No decision is automatic: an alert is a prompt for a "
                                   "trained officer, who confirms or dismisses it; the "
                                   "outcome and what followed an arrest are recorded."),
    "appeals_and_review": ("Anyone may object, complain or ask for redress on the "
                           "deployment's public page; answers are published."),
    "source_data": ("Watchlists are built per deployment from authorised images (here, "
                    "sample photographs of public figures) and destroyed when it ends."),
    "risks": [{"name": "False alerts",
               "description": "A person who is not on the watchlist is stopped.",
               "mitigation": "Every alert is adjudicated by an officer before any approach; "
                             "the threshold is held to an equity audit."},
              {"name": "Unequal accuracy",
               "description": "Accuracy can differ by race, sex and age.",
               "mitigation": "No deployment passes the threshold check until the engine is "
                             "audited for equity; this demo goes ahead only by a published "
                             "two-person override."}],
}

#: The upcoming deployment the demo leaves beside the completed one: noticed three weeks
#: ahead, its consultation open, so a visitor can subscribe, answer and object.
UPCOMING_TITLE = "Brixton market days (demo, upcoming)"
UPCOMING_WARD = "Brixton Windrush"
UPCOMING_SITES = [{"name": "Brixton market", "street": "Electric Avenue", "postcode": "SW9 8JX",
                   "lat": 51.4621, "lon": -0.1146}]
