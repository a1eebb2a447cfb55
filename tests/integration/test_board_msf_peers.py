"""Most similar forces through a real warehouse: peer figures imported a month behind, counts on
rates per 1,000 population, the force's label against its peers, and the peer data's as-of month;
rows from other systems with their own as-of months."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from demandhub.board.catalogue.config import PackSettings
from demandhub.board.catalogue.measures import load_catalogue
from demandhub.board.catalogue.msf import parse_msf
from demandhub.board.catalogue.population import load_populations
from demandhub.board.maths.layout import cell_text
from demandhub.board.maths.months import YearMonth
from demandhub.board.maths.rules import BoardRules
from demandhub.board.report import BoardConfig, build_report
from demandhub.board.warehouse.imports import import_csv
from schemas.definitions import Definitions
from sinks.clickhouse.client import Warehouse

pytestmark = pytest.mark.integration

HEADER = "force_id,measure_id,month,numerator,n,source,as_of"
PEERS = ("beds", "herts", "norfolk", "suffolk")
GROUP = '[[group]]\nforce = "cambs"\nfrom = "2015-04"\npeers = ["beds", "herts", "norfolk", "suffolk"]\n'
EFFECTIVE = {"beds": 400, "herts": 450, "norfolk": 500, "suffolk": 420}  # of 1000 trials
CRIMES = {"beds": 4000, "herts": 7500, "norfolk": 5000, "suffolk": 4100}


def config() -> BoardConfig:
    return BoardConfig(
        load_catalogue(), Definitions(), BoardRules(), PackSettings(msf_period="current"), parse_msf(GROUP)
    )


def csv_text(lines: list[str]) -> str:
    return "\n".join([HEADER, *lines]) + "\n"


def test_peer_rates_labels_and_as_of_months(wh: Warehouse) -> None:
    cfg = config()
    home = [
        "cambs,trials_effective,2019-01,800,1000,court_trials,2019-02-20",
        "cambs,trials_effective,2019-02,790,1000,court_trials,2019-03-20",
        "cambs,specials_hours,2019-01,7000,,specials_duty,2019-02-05",
        "cambs,sickness_officers,2019-01,1200,1400,hr_sickness,2019-02-08",
    ]
    peers: list[str] = []
    for force in PEERS:
        # January is available in February; February's figures only arrive in April.
        peers.append(f"{force},trials_effective,2019-01,{EFFECTIVE[force]},1000,court_trials,2019-02-15")
        peers.append(f"{force},trials_effective,2019-02,999,1000,court_trials,2019-04-10")
        peers.append(f"{force},crime_all,2019-01,{CRIMES[force]},,hmic,2019-02-15")
    import_csv(wh, csv_text(home), cfg.catalogue)
    import_csv(wh, csv_text(peers), cfg.catalogue)
    data = build_report(wh, cfg, "cambs", YearMonth(2019, 3), datetime(2019, 4, 2, tzinfo=UTC)).data
    rows: dict[str, Any] = {m["id"]: m for m in data["measures"]}

    # Rows from other systems take their as-of month from the file, not the catalogue lag.
    assert rows["trials_effective"]["as_of"] == "2019-02"
    assert rows["trials_effective"]["current"] == pytest.approx(79.0)
    assert rows["specials_hours"]["as_of"] == "2019-01" and rows["specials_hours"]["current"] == 7000
    assert rows["sickness_officers"]["current"] == pytest.approx(1200 / 1400)

    # Peer data lags: its as-of month is January (February's rows were not yet available).
    trials = data["msf"]["trials_effective"]
    assert trials["as_of"] == "2019-01" and rows["trials_effective"]["headers"]["msf"] == "Jan-19"
    assert trials["peers"] == list(PEERS)
    comparison = trials["comparison"]
    assert comparison["home"] == pytest.approx(80.0)  # the force's January, like for like
    assert (comparison["low"], comparison["high"]) == (pytest.approx(40.0), pytest.approx(50.0))
    assert comparison["label"] == "Above MSF average"
    assert cell_text(rows["trials_effective"], "msf") == "Above MSF average (peers 40.0% to 50.0%)"

    # A count: each peer's crimes per 1,000 of its population (the estimate in effect in January).
    populations = load_populations()
    rates = {f: 1000 * CRIMES[f] / (populations.at(f, YearMonth(2019, 1)) or 0) for f in PEERS}
    crime = data["msf"]["crime_all"]
    assert crime["basis"] == "rate per 1,000 population" and crime["as_of"] == "2019-01"
    assert crime["peer_values"] == pytest.approx(rates)
    assert crime["value"] == pytest.approx(sum(rates.values()) / len(rates))
    assert crime["comparison"]["label"] == "n/a"  # the force has no crime figures here
