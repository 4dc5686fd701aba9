"""Fixtures for compliance tests: small, realistic watchlist files written by the tests
themselves (the real OFAC and UN files are read in place through `shared_data`)."""
from __future__ import annotations

from pathlib import Path

import pytest

from compliance import selectors
from tests.factories import FirmFactory, OfficerFactory, UserFactory

SDN = """\
36,"AEROCARIBBEAN AIRLINES",-0- ,"CUBA",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- 
6365,"BIN LADIN, Usama bin Muhammad bin Awad","individual","SDGT",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,"DOB 30 Jul 1957; alt. DOB 1958; POB Jeddah, Saudi Arabia; alt. POB Yemen."
6330,"NASSER DAVID, Julio Cesar","individual","SDNT",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,"DOB 01 Nov 1940; alt. DOB 01 Oct 1940; Cedula No. 3710619 (Colombia); Passport H130865 (Colombia)."
21941,"AL-SHAWWA, Ghayth","individual","SYRIA","Scientific Studies and Research Center Employee",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,"DOB 13 Apr 1956; nationality Syria; Scientific Studies and Research Center Employee."
9001,"PETROV, Ivan Sergeyevich","individual","RUSSIA-EO14024",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,"DOB 12 Mar 1971; nationality Russia; Gender Male; Passport 4005504207 (Russia)."
9002,"GOLDEN STAR TRADING LLC","-0- ","IRAN",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,"Registration Number 1234567 (United Arab Emirates)."
"""
ALT = """\
36,12,"aka","AERO-CARIBBEAN",-0- 
6365,4001,"aka","BIN LADEN, Osama",-0- 
6365,4002,"aka","BIN LADIN, Usama",-0- 
"""
ADD = """\
36,25,-0- ,"Havana","Cuba",-0- 
9002,26,"Office 12","Dubai","United Arab Emirates",-0- 
"""
COMMENTS = ""


def write_ofac(directory: Path, *, sdn: str = SDN, alt: str = ALT, add: str = ADD) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    files = {"sdn.csv": sdn, "alt.csv": alt, "add.csv": add, "sdn_comments.csv": COMMENTS}
    paths = []
    for name, text in files.items():
        path = directory / name
        path.write_text(text.replace("\n", "\r\n"), encoding="utf-8")
        paths.append(path)
    return paths


@pytest.fixture
def ofac_files(tmp_path) -> list[Path]:
    return write_ofac(tmp_path / "ofac")


@pytest.fixture(autouse=True)
def _fresh_index_cache():
    selectors._index_cache["key"] = None
    yield
    selectors._index_cache["key"] = None


@pytest.fixture
def firm(db):
    return FirmFactory(home_jurisdiction="GB")


@pytest.fixture
def advisor(firm):
    return UserFactory(firm=firm, role="advisor")


@pytest.fixture
def officer(db):
    return OfficerFactory()


@pytest.fixture
def second_officer(db):
    return OfficerFactory()


@pytest.fixture
def ofac_active(db, ofac_files):
    from compliance.services import watchlist_import

    return watchlist_import(source="ofac", paths=ofac_files)


@pytest.fixture
def packs(db):
    from onboarding.services import rulepacks_load

    return rulepacks_load()
