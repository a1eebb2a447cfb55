"""Reference data: NICL-style incident categories, Home Office offence codes and outcome types.

Category codes match ``^[A-Z][A-Z0-9_]{1,47}$``; the ASB chapter is ``ASB_PERSONAL``, ``ASB_NUISANCE``
and ``ASB_ENVIRONMENTAL``. Offence codes are Home Office style (``8N``, ``105A``, ``28E``...).
"""

from __future__ import annotations

from dataclasses import dataclass

ASB_CATEGORIES = frozenset({"ASB_PERSONAL", "ASB_NUISANCE", "ASB_ENVIRONMENTAL"})


@dataclass(frozen=True)
class Category:
    code: str
    weight: float  # share among contact-led incidents
    self_weight: float  # share among self-initiated incidents
    urgency: int  # 0 high, 1 medium, 2 low
    crime_p: float  # probability a crime is recorded from the incident
    offences: tuple[tuple[str, float], ...] = ()
    da_p: float = 0.0  # probability of the domestic-abuse flag at opening
    hate_p: float = 0.0


CATEGORIES: tuple[Category, ...] = (
    Category("ASB_PERSONAL", 0.036, 0.01, 1, 0.06, (("9A", 1.0), ("8L", 0.5))),
    Category("ASB_NUISANCE", 0.062, 0.03, 2, 0.02, (("9A", 1.0),)),
    Category("ASB_ENVIRONMENTAL", 0.014, 0.01, 2, 0.02, (("58A", 1.0),)),
    Category(
        "CRIME_VIOLENCE",
        0.075,
        0.05,
        0,
        0.86,
        (("105A", 6.0), ("8N", 4.0), ("5D", 0.4)),
        0.30,
        0.02,
    ),
    Category("CRIME_SEXUAL", 0.011, 0.0, 0, 0.82, (("17A", 2.0), ("19C", 1.0))),
    Category("CRIME_BURGLARY", 0.027, 0.01, 1, 0.88, (("28E", 3.0), ("30C", 1.0))),
    Category("CRIME_ROBBERY", 0.005, 0.01, 0, 0.9, (("34B", 1.0),)),
    Category(
        "CRIME_THEFT",
        0.058,
        0.03,
        2,
        0.84,
        (("49", 4.0), ("46", 4.0), ("44", 1.5), ("45", 1.5), ("48", 1.0)),
    ),
    Category("CRIME_DAMAGE", 0.033, 0.02, 2, 0.82, (("58A", 2.0), ("58C", 1.0))),
    Category("CRIME_DRUGS", 0.008, 0.14, 1, 0.9, (("92E", 3.0), ("92A", 1.0))),
    Category(
        "CRIME_HARASSMENT",
        0.034,
        0.0,
        2,
        0.78,
        (("8L", 3.0), ("8M", 1.0), ("195", 1.0)),
        0.25,
        0.03,
    ),
    Category("CRIME_PUBLIC_ORDER", 0.02, 0.08, 1, 0.7, (("9A", 2.0), ("8L", 0.5)), 0.0, 0.05),
    Category("CRIME_FRAUD", 0.012, 0.0, 2, 0.6, (("53J", 1.0),)),
    Category("CRIME_MODERN_SLAVERY", 0.0006, 0.002, 1, 0.9, (("106", 1.0),)),
    Category("DOMESTIC_INCIDENT", 0.062, 0.02, 0, 0.45, (("105A", 3.0), ("8N", 2.0), ("8L", 1.0)), 1.0),
    Category("PUBLIC_SAFETY_CONCERN_FOR_SAFETY", 0.095, 0.05, 0, 0.01),
    Category("PUBLIC_SAFETY_MISSING_PERSON", 0.022, 0.01, 0, 0.0),
    Category("PUBLIC_SAFETY_SUSPICIOUS_CIRCUMSTANCES", 0.072, 0.12, 1, 0.04, (("49", 1.0),)),
    Category("PUBLIC_SAFETY_ALARM", 0.028, 0.0, 1, 0.01, (("28E", 1.0),)),
    Category("PUBLIC_SAFETY_DOMESTIC_ANIMAL", 0.012, 0.0, 2, 0.0),
    Category("TRANSPORT_RTC", 0.062, 0.08, 0, 0.04, (("802", 1.0),)),
    Category("TRANSPORT_HIGHWAY_DISRUPTION", 0.04, 0.12, 1, 0.0),
    Category("TRANSPORT_ROAD_RELATED_OFFENCE", 0.015, 0.17, 2, 0.25, (("802", 1.0),)),
    Category("ADMIN_LOST_FOUND_PROPERTY", 0.02, 0.0, 2, 0.0),
    Category("ADMIN_COURT_WARRANT", 0.008, 0.05, 2, 0.0),
    Category("ADMIN_INTELLIGENCE", 0.01, 0.04, 2, 0.0),
)

CATEGORY_BY_CODE = {c.code: c for c in CATEGORIES}

# Where a wrongly opened incident ends up: final category moves (opening -> candidates).
RECATEGORISE: dict[str, tuple[str, ...]] = {
    "ASB_PERSONAL": ("CRIME_HARASSMENT", "ASB_NUISANCE", "CRIME_PUBLIC_ORDER"),
    "ASB_NUISANCE": ("ASB_PERSONAL", "CRIME_DAMAGE", "PUBLIC_SAFETY_SUSPICIOUS_CIRCUMSTANCES"),
    "ASB_ENVIRONMENTAL": ("ASB_NUISANCE", "CRIME_DAMAGE"),
    "PUBLIC_SAFETY_SUSPICIOUS_CIRCUMSTANCES": ("ASB_NUISANCE", "CRIME_THEFT", "CRIME_BURGLARY"),
    "CRIME_PUBLIC_ORDER": ("ASB_PERSONAL", "CRIME_VIOLENCE"),
    "DOMESTIC_INCIDENT": ("CRIME_VIOLENCE", "CRIME_HARASSMENT"),
    "CRIME_VIOLENCE": ("CRIME_PUBLIC_ORDER", "DOMESTIC_INCIDENT"),
    "PUBLIC_SAFETY_CONCERN_FOR_SAFETY": ("PUBLIC_SAFETY_MISSING_PERSON", "ASB_PERSONAL"),
}

# Reclassification moves between related offences.
RECLASSIFY: dict[str, tuple[str, ...]] = {
    "105A": ("8N", "9A"),
    "8N": ("105A", "5D"),
    "5D": ("8N",),
    "49": ("46", "45"),
    "46": ("49",),
    "45": ("49", "48"),
    "48": ("45",),
    "28E": ("30C", "49"),
    "30C": ("28E",),
    "8L": ("195", "8M", "9A"),
    "8M": ("8L",),
    "195": ("8L",),
    "9A": ("8L", "105A"),
    "58A": ("58C",),
    "58C": ("58A",),
    "17A": ("19C",),
    "19C": ("17A",),
    "92E": ("92A",),
    "92A": ("92E",),
}

CYBER_OFFENCES = frozenset({"8L", "8M", "195", "53J"})
RURAL_OFFENCES = frozenset({"28E", "30C", "49", "45", "48", "58A", "58C", "34B"})
DA_OFFENCES = frozenset({"105A", "8N", "5D", "8L", "8M", "195", "17A", "19C", "58A", "9A"})
HATE_OFFENCES = frozenset({"105A", "8N", "9A", "8L", "8M", "58A"})
HATE_STRANDS: tuple[tuple[str, float], ...] = (
    ("race", 0.72),
    ("religion", 0.08),
    ("sexual_orientation", 0.11),
    ("disability", 0.06),
    ("transgender", 0.03),
)

ONLINE_OFFENCES: tuple[tuple[str, float], ...] = (
    ("49", 4.0),
    ("44", 2.0),
    ("45", 2.0),
    ("58C", 2.0),
    ("58A", 1.0),
    ("53J", 2.0),
    ("8L", 1.5),
    ("46", 1.0),
)

# Home Office outcome types: (type, weight, median days to the outcome, log-sd).
OUTCOMES: tuple[tuple[int, float, float, float], ...] = (
    (1, 7.5, 55.0, 0.9),
    (2, 0.4, 40.0, 0.8),
    (3, 1.3, 35.0, 0.8),
    (4, 0.3, 60.0, 0.8),
    (5, 0.05, 60.0, 0.8),
    (6, 0.5, 10.0, 0.8),
    (7, 0.5, 5.0, 0.8),
    (8, 3.8, 10.0, 0.9),
    (10, 0.3, 30.0, 0.8),
    (12, 0.2, 30.0, 0.8),
    (14, 8.0, 40.0, 0.9),
    (15, 10.0, 55.0, 0.9),
    (16, 17.0, 35.0, 0.9),
    (17, 0.2, 180.0, 0.3),
    (18, 42.0, 12.0, 0.9),
    (20, 1.5, 25.0, 0.8),
    (21, 1.0, 30.0, 0.8),
    (22, 0.3, 40.0, 0.8),
)

NEVER_ATTENDED_DELAY = ("no_resource_available", "caller_no_longer_requires")
DELAY_REASONS = ("traffic", "resource_diverted", "distance", "awaiting_backup")
