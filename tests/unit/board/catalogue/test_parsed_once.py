"""The packaged catalogue and peer groups are parsed once per process (a process building many
packs reads the same immutable text): the same text gives the same object, an error every time."""

from __future__ import annotations

import pytest

from demandhub.board.catalogue.measures import CatalogueError, default_path, load_catalogue, parse_catalogue
from demandhub.board.catalogue.msf import load_msf

pytestmark = pytest.mark.unit


def test_the_same_text_gives_the_same_catalogue_and_peer_groups() -> None:
    assert load_catalogue() is load_catalogue()
    assert parse_catalogue(default_path().read_text()) is load_catalogue()
    assert load_msf() is load_msf()


def test_a_bad_catalogue_fails_every_time() -> None:
    for _ in range(2):
        with pytest.raises(CatalogueError):
            parse_catalogue("measure = [")
