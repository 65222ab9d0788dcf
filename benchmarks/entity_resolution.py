"""Entity matching at 100k and 1M reference names: the index methods, measured side by side.

    venv/bin/python -m benchmarks.entity_resolution [--sizes 100000 1000000] [--queries 2000]
        [--methods default exact napp] [--latency-queries 500] [--seed 6] [--rebuild]
        [--rerank SIZE ...] [--merge]
    venv/bin/python -m benchmarks.entity_resolution --calibrate

Everything is generated here, deterministically, with no download:

- **References**: company-like names. Invented brand words (built from syllables, each shared
  by a few companies), surnames, places, adjectives and nouns, combined with industry and
  generic words ("Zorvani Logistics Group", "Becker & Lindqvist", "Pacific Granite Energy
  Partners", "KTR Holdings") and, for most, a legal form ("Inc.", "GmbH", "S.A.", ...). No two
  references share a normalised name, whatever their legal form or word order, so each query has
  one true entity.
- **Queries**: references drawn at random, each given one to three kinds of noise: typos
  (deletion, insertion, substitution, transposition), a legal form dropped, changed or added,
  case changes, and abbreviations ("International" -> "Intl", "&" <-> "and", "Brothers" ->
  "Bros", initials for the leading words, ...).

For each method and size, the library itself (``functions/entity_matching``) builds, saves and
loads the index, and answers:

- **build s / size MB**: ``EntityIndex.build`` (normalisation, TF-IDF and the index) and the
  saved folder's size;
- **p50 / p99 ms**: ``index.match(name, k=3)`` timed one query at a time, end to end
  (normalisation, vectorising, search, results); the NAPP row at 1M uses the first
  ``--latency-queries`` queries, as each takes over 100 ms;
- **batch q/s**: ``index.match_many(all queries, k=3)`` with one thread per core;
- **recall@1 vs exact**: the share of queries whose first match is a nearest reference, i.e. has
  the best cosine over all references (scipy's sparse product of the query with every reference
  vector, float64, computed in the same run; ties count as hits);
- **accuracy**: the share whose first match is the query's true entity (by kind of noise too);
- **cold start s**: a fresh interpreter that imports ``entity_matching`` and loads the saved
  index (checksums verified, as the matcher does), then answers one query; imports and load are
  timed separately, with the modules it imported (scikit-learn and scipy must not be among
  them). The download from S3 is not included: there is no S3 here;
- **brute force**: the row that all others are compared with (``p50_vs_brute_force``): per
  query, scipy's sparse product with every reference vector, then the top k;
- **cost**: 10 M requests a month at the measured durations (each billed up to a whole ms) on
  the matcher's default 1,769 MB, arm64 prices, requests included.

The re-ranker (``rerank_eval``): the default index with and without it, on the same queries
plus queries for names that are not references (``absent_queries``): accuracy by noise,
latency, precision and recall at the service's default minScore, reliability, and the
benchmark's own ceiling (``ambiguity``: queries its noise could have made from several
references). ``--calibrate`` fits the re-ranker's constants on a disjoint set (another seed,
rule-made abbreviations, never ``ABBREVIATIONS``); ``abbreviation_rules`` records which of
``ABBREVIATIONS`` the rules recognise (a held-out check).

Also: a sweep of the default's query parameters at 1M, and a probe of nmslib's HNSW at 100k.
Datasets and built indexes are cached under ``build/benchmarks/entity_resolution/``, so a rerun
only queries (``--rebuild`` builds again). Results: ``results/entity_resolution.json``; the
write-up: ``README.md`` ("Entity resolution"). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import itertools
import json
import math
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from entity_matching import EntityIndex, normalize
from entity_matching.index import DEFAULT_METHOD, PRUNED_QUERY_PARAMS

from benchmarks import FUNCTIONS, ROOT
from benchmarks.recording import cpu_model, write_results

RESULTS = Path(__file__).resolve().parent / "results" / "entity_resolution.json"
CACHE = ROOT / "build" / "benchmarks" / "entity_resolution"
K = 3

# ------------------------------------------------------------------------------ the methods


@dataclass(frozen=True)
class Method:
    """One index configuration: a library method, its build parameters, and the query
    parameters it is loaded with (``load_params``: a variant of a build, no rebuild)."""

    key: str
    label: str
    method: str | None  # None: the library's default
    index_params: dict[str, int | float | str] | None = None
    query_params: dict[str, int | float | str] | None = None
    load_params: dict[str, int | float | str] | None = None
    slow: bool = False  # latency on a subset of the queries at large sizes
    max_size: int | None = None  # not measured above this many references

    def build_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        if self.method is not None:
            kwargs["method"] = self.method
        if self.index_params is not None:
            kwargs["index_params"] = self.index_params
        if self.query_params is not None:
            kwargs["query_params"] = self.query_params
        return kwargs

    def build_key(self) -> str:
        """The cached index this method uses: variants share their build."""
        kwargs = self.build_kwargs() or {"default": DEFAULT_METHOD,
                                         "query_params": PRUNED_QUERY_PARAMS}
        digest = hashlib.sha256(json.dumps(kwargs, sort_keys=True).encode())
        return f"{self.method or DEFAULT_METHOD}-{digest.hexdigest()[:8]}"


METHODS: dict[str, Method] = {method.key: method for method in (
    # What EntityIndex.build() builds: posting lists, the query pruned, candidates re-scored.
    Method("default", "pruned (library default): candidates 100, skipBound 0.5", None),
    # The same pruning with nmslib's exact inverted index finding the candidates.
    Method("invindex", "invindex: nmslib simple_invindx, candidates 100, skipBound 0.5",
           "invindex"),
    Method("exact", "exact search of the posting lists (numpy)", "exact"),
    Method("napp", "post: NAPP, negdotprod_sparse_fast, nmslib defaults", "napp", slow=True),
    # nmslib's graph; at 1M its build alone outlasts this benchmark's budget on 2 cores.
    Method("sw-graph", "sw-graph NN15 efC100 efSearch100", "sw-graph",
           {"NN": 15, "efConstruction": 100}, {"efSearch": 100}, max_size=100_000),
)}
DEFAULT_METHODS = tuple(METHODS)
# Lambda arm64 prices, us-east-1, first tier: published on the AWS Lambda pricing page since
# arm64 launched (2021-09-29), unchanged as of 2026-11 (this benchmark's date).
PRICE_GB_SECOND = 0.0000133334
PRICE_PER_MILLION_REQUESTS = 0.20
POST_LAMBDA_10M = 161.80
POST_TOTAL_10M = 179.41
MATCHER_MEMORY_MB = 1769  # the component's default (1 vCPU)
REQUESTS = 10_000_000

# ------------------------------------------------------------------------------ the data

LEGAL_FORMS = (  # (form, weight): US/UK forms most common, then European and Asian ones
    ("Inc.", 14), ("Inc", 4), ("LLC", 14), ("Ltd", 6), ("Ltd.", 4), ("Limited", 4),
    ("Corp.", 5), ("Corporation", 4), ("Co.", 2), ("Company", 2), ("Incorporated", 1),
    ("PLC", 2), ("LLP", 2), ("L.P.", 1), ("GmbH", 6), ("AG", 2), ("GmbH & Co. KG", 1),
    ("S.A.", 4), ("SA", 1), ("S.A.S.", 1), ("SARL", 1), ("S.p.A.", 1), ("S.r.l.", 2),
    ("B.V.", 3), ("N.V.", 1), ("Pty Ltd", 2), ("Pte. Ltd.", 1), ("Oy", 1), ("AB", 2),
    ("A/S", 1), ("ApS", 1), ("K.K.", 1), ("Co., Ltd.", 2), ("Sdn. Bhd.", 1), ("Ltda.", 1),
    ("", 20),
)
INDUSTRIES = (
    "Logistics", "Foods", "Energy", "Pharmaceuticals", "Software", "Systems", "Motors",
    "Textiles", "Insurance", "Capital", "Holdings", "Industries", "Technologies", "Solutions",
    "Partners", "Media", "Airlines", "Shipping", "Mining", "Chemicals", "Electronics",
    "Robotics", "Analytics", "Consulting", "Construction", "Healthcare", "Beverages", "Apparel",
    "Trading", "Bank", "Bancorp", "Financial", "Investments", "Realty", "Properties",
    "Manufacturing", "Engineering", "Laboratories", "Biosciences", "Therapeutics", "Foods",
    "Farms", "Dairy", "Bakery", "Brewing", "Wines", "Restaurants", "Hotels", "Travel",
    "Transport", "Freight", "Trucking", "Aviation", "Marine", "Steel", "Metals", "Plastics",
    "Packaging", "Paper", "Printing", "Publishing", "Entertainment", "Studios", "Games",
    "Telecom", "Networks", "Communications", "Wireless", "Semiconductors", "Devices",
    "Instruments", "Controls", "Automation", "Tools", "Equipment", "Machinery", "Supply",
    "Distribution", "Wholesale", "Retail", "Stores", "Markets", "Pharmacy", "Clinics",
    "Medical", "Dental", "Diagnostics", "Imaging", "Security", "Defense", "Aerospace",
    "Solar", "Wind", "Power", "Utilities", "Water", "Environmental", "Recycling", "Waste",
    "Agriculture", "Seeds", "Fertilizers", "Timber", "Furniture", "Interiors", "Design",
    "Architects", "Builders", "Homes", "Developments", "Management", "Services", "Staffing",
    "Recruitment", "Education", "Learning", "Academy", "Labs", "Data", "Cloud", "Digital",
    "Interactive", "Marketing", "Advertising", "Consultants", "Advisors", "Associates",
    "Brokers", "Exchange", "Credit", "Lending", "Mortgage", "Leasing", "Rentals", "Auto",
    "Automotive", "Tires", "Parts", "Fabrication", "Coatings", "Paints", "Glass", "Ceramics",
    "Cosmetics", "Fashion", "Footwear", "Jewelry", "Sports", "Outdoors", "Pets", "Toys",
)
GENERIC = ("Group", "International", "Global", "Holdings", "Worldwide", "Enterprises",
           "Partners", "Associates", "Services", "Brothers", "and Sons", "Trust",
           "Ventures", "Resources", "Alliance", "Network", "Collective", "Works", "America",
           "Europe", "Asia Pacific", "USA", "UK", "North America", "of America")
ADJECTIVES = (
    "Global", "United", "Northern", "Southern", "Eastern", "Western", "Pacific", "Atlantic",
    "Blue", "Green", "Red", "Black", "White", "Silver", "Golden", "Summit", "Pioneer",
    "Liberty", "Apex", "Vertex", "Quantum", "Coastal", "Alpine", "Royal", "Metro", "Prime",
    "First", "National", "American", "General", "Advanced", "Integrated", "Precision",
    "Premier", "Superior", "Allied", "Consolidated", "Continental", "Central", "Modern",
    "Classic", "Dynamic", "Strategic", "Creative", "Smart", "Bright", "Clear", "True", "Bold",
    "Swift", "Rapid", "Great", "Grand", "Noble", "Evergreen", "Crystal", "Diamond", "Iron",
    "Stone", "Oak", "Pine", "Cedar", "Maple", "Sunrise", "Sunset", "Northstar", "Lakeside",
    "Riverside", "Highland", "Midland", "Valley", "Heritage", "Legacy", "Frontier", "Horizon",
)
NOUNS = (
    "Harbor", "Ridge", "Falcon", "Eagle", "Hawk", "Orion", "Beacon", "Crescent", "Granite",
    "Meridian", "Sterling", "Willow", "Aurora", "Cobalt", "Everest", "Summit", "Anchor",
    "Arrow", "Bridge", "Canyon", "Cascade", "Compass", "Delta", "Echo", "Fusion", "Gateway",
    "Harvest", "Keystone", "Lighthouse", "Lotus", "Mesa", "Nexus", "Oasis", "Pinnacle",
    "Quest", "Radiant", "Sequoia", "Shield", "Spectrum", "Titan", "Trident", "Vista",
    "Zenith", "Atlas", "Phoenix", "Lion", "Bear", "Wolf", "Fox", "Oak", "Rock", "River",
    "Lake", "Bay", "Point", "Peak", "Field", "Forest", "Meadow", "Island", "Star", "Sun",
    "Moon", "Comet", "Galaxy", "Planet", "Crown", "Castle", "Tower", "Forge", "Mill",
)
SURNAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
    "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez",
    "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright",
    "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall",
    "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Müller", "Schmidt", "Schneider",
    "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann", "Koch", "Richter",
    "Klein", "Wolf", "Schröder", "Neumann", "Schwarz", "Zimmermann", "Braun", "Krüger",
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy",
    "Moreau", "Lefèvre", "Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano",
    "Colombo", "Ricci", "Marino", "Greco", "Bruno", "Gallo", "Conti", "De Luca", "Costa",
    "Tanaka", "Suzuki", "Takahashi", "Watanabe", "Ito", "Yamamoto", "Nakamura", "Kobayashi",
    "Kato", "Yoshida", "Kim", "Park", "Choi", "Jung", "Kang", "Cho", "Yoon", "Jang", "Wang",
    "Li", "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu", "Zhou", "Andersson",
    "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson", "Persson", "Jansen",
    "de Jong", "de Vries", "van den Berg", "van Dijk", "Bakker", "Visser", "Smit", "Kowalski",
    "Nowak", "Wiśniewski", "Wójcik", "Kowalczyk", "Novák", "Svoboda", "Dvořák", "Ivanov",
    "Petrov", "Sidorov", "Smirnov", "Popescu", "Horvat", "Kovačević", "Yılmaz", "Kaya",
    "Demir", "Şahin", "O'Brien", "O'Connor", "McCarthy", "MacDonald", "Murphy", "Kelly",
    "Walsh", "Byrne", "Ryan", "Silva", "Santos", "Ferreira", "Pereira", "Oliveira", "Sousa",
    "Fernández", "González", "Gómez", "Díaz", "Álvarez", "Muñoz", "Romero", "Navarro",
    "Núñez", "Patel", "Shah", "Singh", "Kumar", "Sharma", "Gupta", "Mehta", "Reddy", "Khan",
    "Ali", "Hussain", "Cohen", "Levi", "Friedman", "Schwartz", "Katz", "Goldberg", "Larsen",
    "Nielsen", "Hansen", "Pedersen", "Christensen", "Sørensen", "Østergaard", "Virtanen",
    "Korhonen", "Mäkinen", "Nieminen", "Papadopoulos", "Georgiou", "Nagy", "Tóth", "Szabó",
)
PLACES = (
    "Boston", "Chicago", "Dallas", "Denver", "Houston", "Phoenix", "Seattle", "Portland",
    "Atlanta", "Miami", "Detroit", "Austin", "Nashville", "Charlotte", "Columbus", "Memphis",
    "Baltimore", "Milwaukee", "Tucson", "Omaha", "Raleigh", "Tampa", "Orlando", "Pittsburgh",
    "Cincinnati", "Cleveland", "Sacramento", "Brooklyn", "Manhattan", "Hudson", "Texas",
    "California", "Florida", "Ohio", "Georgia", "Carolina", "Virginia", "Oregon", "Nevada",
    "Arizona", "Colorado", "Dakota", "Montana", "Alaska", "Hawaii", "London", "Manchester",
    "Bristol", "Leeds", "Glasgow", "Dublin", "Paris", "Lyon", "Marseille", "Berlin", "Munich",
    "Hamburg", "Frankfurt", "Vienna", "Zurich", "Geneva", "Milano", "Roma", "Torino", "Madrid",
    "Barcelona", "Valencia", "Lisboa", "Porto", "Amsterdam", "Rotterdam", "Antwerp",
    "Brussels", "Copenhagen", "Stockholm", "Oslo", "Helsinki", "Warsaw", "Prague", "Budapest",
    "Athens", "Istanbul", "Tokyo", "Osaka", "Kyoto", "Seoul", "Busan", "Shanghai", "Beijing",
    "Shenzhen", "Singapore", "Mumbai", "Delhi", "Sydney", "Melbourne", "Auckland", "Toronto",
    "Montreal", "Vancouver", "Calgary", "Mexico", "Sao Paulo", "Buenos Aires", "Santiago",
    "Nordic", "Baltic", "Iberia", "Balkan", "Alpine", "Andes", "Sahara", "Pacific Northwest",
    "New England", "Midwest", "Gulf Coast", "Great Lakes", "Rocky Mountain", "Bay Area",
)
ONSETS = ("b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w",
          "z", "b", "c", "d", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v")
CLUSTERS = ("br", "ch", "cl", "cr", "dr", "fl", "fr", "gl", "gr", "kl", "kr", "pl", "pr", "qu",
            "sh", "sk", "sl", "sp", "st", "str", "th", "tr", "vr", "x", "zh")
VOWELS = ("a", "e", "i", "o", "u", "a", "e", "i", "o", "ai", "ea", "io", "ou", "y", "ae")
CODAS = ("n", "r", "l", "s", "x", "nd", "nt", "rk", "st", "m", "v", "t", "k", "ck", "sh", "ng")
ENDINGS = ("a", "o", "ix", "on", "ex", "ia", "io", "us", "en", "ar", "ify", "ly", "era", "ant",
           "ent", "ique", "ora", "ium", "is", "um", "eo", "ova", "tech", "co", "gen", "tron",
           "soft", "net", "ware", "lab", "max", "point", "line", "wise", "works", "ville")

# Abbreviations that people type (query noise), keyed by the lower-cased word.
ABBREVIATIONS = {
    "international": ("Intl", "Int'l", "Intl."), "corporation": ("Corp",),
    "manufacturing": ("Mfg", "Mfg."), "technologies": ("Tech", "Techs"),
    "technology": ("Tech",), "brothers": ("Bros", "Bros."), "company": ("Co",),
    "associates": ("Assoc", "Assocs"), "services": ("Svcs", "Svc"), "management": ("Mgmt",),
    "industries": ("Inds", "Ind."), "systems": ("Sys",), "laboratories": ("Labs", "Lab"),
    "national": ("Natl", "Nat'l"), "developments": ("Dev",), "engineering": ("Eng", "Engg"),
    "investments": ("Inv", "Invest"), "pharmaceuticals": ("Pharma", "Pharm"),
    "communications": ("Comms", "Comm"), "distribution": ("Dist", "Distr"),
    "electronics": ("Elec",), "financial": ("Fin", "Finl"), "insurance": ("Ins",),
    "properties": ("Props",), "equipment": ("Equip",), "entertainment": ("Ent",),
    "environmental": ("Env", "Enviro"), "healthcare": ("Health Care", "HC"),
    "worldwide": ("WW",), "america": ("Amer",), "american": ("Amer",), "north": ("N",),
    "south": ("S",), "saint": ("St",), "mountain": ("Mtn",), "general": ("Gen",),
    "and": ("&",), "&": ("and", "+"), "solutions": ("Soln", "Solns"), "automotive": ("Auto",),
    "semiconductors": ("Semi", "Semicon"), "transport": ("Trans",), "consulting": ("Cnslt",),
    "holdings": ("Hldgs", "Hldg"), "group": ("Grp",), "partners": ("Ptnrs",),
    "enterprises": ("Ent", "Entps"), "realty": ("Rlty",), "capital": ("Cap",),
}


def repeatable(seed: int) -> random.Random:
    return random.Random(seed)  # noqa: S311 (repeatable benchmark data, not secrets)


def brand_word(rng: random.Random) -> str:
    """An invented brand word of one to three syllables and perhaps an ending ("Vantrix")."""
    parts = []
    for _ in range(rng.choice((1, 2, 2, 2, 3))):
        parts.append(rng.choice(CLUSTERS) if rng.random() < 0.2 else rng.choice(ONSETS))
        parts.append(rng.choice(VOWELS))
        if rng.random() < 0.35:
            parts.append(rng.choice(CODAS))
    if rng.random() < 0.45:
        parts.append(rng.choice(ENDINGS))
    return "".join(parts).capitalize()


def company_core(rng: random.Random, brands: Sequence[str]) -> str:
    """A company name without its legal form."""
    pattern = rng.random()
    brand = rng.choice(brands)
    if pattern < 0.22:
        return f"{brand} {rng.choice(INDUSTRIES)}"
    if pattern < 0.34:
        return f"{brand} {rng.choice(INDUSTRIES)} {rng.choice(GENERIC)}"
    if pattern < 0.42:
        return f"{brand} {rng.choice(GENERIC)}"
    if pattern < 0.48:
        return f"{brand} {rng.choice(brands)}"
    if pattern < 0.53:
        return brand
    if pattern < 0.61:
        return f"{rng.choice(SURNAMES)} {rng.choice(INDUSTRIES)}"
    if pattern < 0.66:
        return f"{rng.choice(SURNAMES)} & {rng.choice(SURNAMES)}"
    if pattern < 0.69:
        return f"{rng.choice(SURNAMES)}, {rng.choice(SURNAMES)} & {rng.choice(SURNAMES)}"
    if pattern < 0.73:
        return f"{rng.choice(SURNAMES)} {rng.choice(('Brothers', 'and Sons', '& Sons'))} " \
               f"{rng.choice(INDUSTRIES)}"
    if pattern < 0.80:
        return f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} {rng.choice(INDUSTRIES)}"
    if pattern < 0.86:
        return f"{rng.choice(PLACES)} {rng.choice(INDUSTRIES)} {rng.choice(GENERIC)}"
    if pattern < 0.91:
        return f"{rng.choice(ADJECTIVES)} {brand} {rng.choice(INDUSTRIES)}"
    if pattern < 0.95:
        letters = "".join(rng.choice("ABCDEFGHIJKLMNOPRSTUVWXYZ")
                          for _ in range(rng.choice((2, 3, 3, 4))))
        return f"{letters} {rng.choice(INDUSTRIES)}"
    return f"{rng.choice(NOUNS)} {rng.choice(PLACES)} {rng.choice(INDUSTRIES)}"


def reference_names(count: int, seed: int) -> list[str]:
    """``count`` company-like names, distinct once normalised (legal forms and word order
    ignored, as the vectors ignore both)."""
    rng = repeatable(seed)
    brands = sorted({brand_word(rng) for _ in range(max(1000, count // 3))})
    forms = [form for form, _ in LEGAL_FORMS]
    weights = [weight for _, weight in LEGAL_FORMS]
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < count:
        core = company_core(rng, brands)
        key = " ".join(sorted(normalize(core).split()))
        if not key or key in seen:
            continue
        seen.add(key)
        form = rng.choices(forms, weights)[0]
        names.append(f"{core}, {form}" if form and rng.random() < 0.15 and " " not in form
                     else f"{core} {form}".strip())
    return names


# ---------------------------------------------------------------------------- query noise

def _typo(rng: random.Random, name: str) -> str:
    words = name.split()
    candidates = [position for position, word in enumerate(words) if len(word) >= 4]
    if not candidates:
        candidates = list(range(len(words)))
    position = rng.choice(candidates)
    word = words[position]
    at = rng.randrange(1, len(word)) if len(word) > 1 else 0
    kind = rng.randrange(4)
    letter = rng.choice("abcdefghijklmnopqrstuvwxyz")
    if kind == 0 and len(word) > 1:  # deletion
        word = word[:at] + word[at + 1:]
    elif kind == 1:  # insertion
        word = word[:at] + letter + word[at:]
    elif kind == 2:  # substitution
        word = word[:at] + (letter if letter != word[at:at + 1].lower() else "q") + word[at + 1:]
    elif at >= 1 and word[at - 1] != word[at]:  # transposition
        word = word[:at - 1] + word[at] + word[at - 1] + word[at + 1:]
    else:
        word = word[:at] + word[at + 1:]
    words[position] = word
    return " ".join(words)


def _split_form(name: str) -> tuple[str, str]:
    """(the name without its legal form, the form) for names made by ``reference_names``."""
    for form, _ in sorted(LEGAL_FORMS, key=lambda pair: -len(pair[0])):
        if form and name.endswith(" " + form):
            return name[:-len(form) - 1].rstrip(","), form
    return name, ""


def _legal(rng: random.Random, name: str) -> str:
    core, form = _split_form(name)
    if form and rng.random() < 0.5:
        return core
    others = [other for other, _ in LEGAL_FORMS if other and other != form]
    return f"{core} {rng.choice(others)}"


def _case(rng: random.Random, name: str) -> str:
    choice = rng.randrange(4)
    if choice == 0:
        return name.upper()
    if choice == 1:
        return name.lower()
    if choice == 2:
        return name.title()
    return "".join(char.upper() if rng.random() < 0.3 else char.lower() for char in name)


def _abbreviate(rng: random.Random, name: str) -> str:
    core, form = _split_form(name)
    words = core.split()
    positions = [position for position, word in enumerate(words)
                 if word.lower().rstrip(",") in ABBREVIATIONS]
    if positions and rng.random() < 0.8:
        position = rng.choice(positions)
        words[position] = rng.choice(ABBREVIATIONS[words[position].lower().rstrip(",")])
    elif len(words) >= 3 and rng.random() < 0.5:
        # Initials for the leading words: "Pacific Granite Energy" -> "PG Energy".
        words = ["".join(word[0].upper() for word in words[:2]), *words[2:]]
    elif len(words) >= 2:
        # A word dropped: "Zorvani Logistics Group" -> "Zorvani Group".
        del words[rng.randrange(1, len(words))]
    return " ".join([*words, form]).strip()


NOISE = {"typo": _typo, "legal": _legal, "case": _case, "abbreviation": _abbreviate}
NOISE_WEIGHTS = {"typo": 5, "legal": 4, "case": 3, "abbreviation": 3}


def _rule_abbreviate(rng: random.Random, name: str, common: frozenset[str] = frozenset()) -> str:
    """The calibration set's abbreviations: generic rules, never ``ABBREVIATIONS``. A long word
    cut to a prefix, to its consonants or to a contraction keeping its last letter ("Vantrix"
    -> "Vant", "Vntr", "Vnx"), initials of the first
    two or three words or of all, "&" / "and" / "+" swapped, two words swapped, a word dropped.
    Only ``common`` words are cut: people shorten "Manufacturing", not a brand name."""
    core, form = _split_form(name)
    words = core.split()
    choice = rng.random()
    long = [position for position, word in enumerate(words)
            if len(word) >= 6 and word.isalpha() and word.lower() in common]
    if long and choice < 0.45:
        position = rng.choice(long)
        word = words[position]
        skeleton = word[0] + "".join(char for char in word[1:-1] if char.lower() not in "aeiou")
        kind = rng.randrange(3)
        if kind == 0:  # a prefix: "Assoc"
            short = word[:rng.randint(3, 5)]
        elif kind == 1:  # the consonants: "Mnfc"
            short = skeleton[:rng.randint(3, 5)]
        else:  # a contraction keeping the last letter: "Mnfg", "Hldgs"
            short = skeleton[:rng.randint(1, 3)] + word[-1]
        words[position] = short + ("." if rng.random() < 0.2 else "")
    elif len(words) >= 2 and choice < 0.7:
        size = min(len(words), rng.choice((2, 2, 3, len(words))))
        words = ["".join(word[0].upper() for word in words[:size]), *words[size:]]
    elif choice < 0.8 and any(word.lower() in ("&", "and") for word in words):
        words = [{"&": rng.choice(("and", "+")), "and": "&"}.get(word.lower(), word)
                 for word in words]
    elif len(words) >= 2 and choice < 0.9:
        first, second = rng.sample(range(len(words)), 2)
        words[first], words[second] = words[second], words[first]
    elif len(words) >= 2:
        del words[rng.randrange(1, len(words))]
    return " ".join([*words, form]).strip()


def calibration_noise(names: Sequence[str]) -> dict[str, Any]:
    """The calibration set's noise: the benchmark's typos, legal forms and case, and
    ``_rule_abbreviate`` on the words found in at least 0.05% of ``names``."""
    counts = Counter(word.lower() for name in names for word in set(name.split()))
    common = frozenset(word for word, count in counts.items() if count * 2000 >= len(names))
    return {**NOISE, "abbreviation": lambda rng, name: _rule_abbreviate(rng, name, common)}


@dataclass(frozen=True)
class Query:
    text: str
    truth: int  # the reference's position
    noise: tuple[str, ...]


def make_queries(names: Sequence[str], count: int, seed: int,
                 noise: dict[str, Any] | None = None) -> list[Query]:
    """``count`` noisy versions of distinct references; each has at least one kind of noise and
    differs from its reference as written. ``noise``: the functions (default ``NOISE``)."""
    noise = noise or NOISE
    rng = repeatable(seed + 1)
    truths = rng.sample(range(len(names)), count)
    kinds = list(NOISE_WEIGHTS)
    weights = [NOISE_WEIGHTS[kind] for kind in kinds]
    queries = []
    for truth in truths:
        while True:
            chosen: list[str] = []
            for _ in range(rng.choice((1, 1, 2, 2, 3))):
                kind = rng.choices(kinds, weights)[0]
                if kind not in chosen:
                    chosen.append(kind)
            # Typos last, so an abbreviation or a legal form is found before a typo hides it.
            chosen.sort(key=lambda kind: kind == "typo")
            text = names[truth]
            for kind in chosen:
                if kind == "typo" and rng.random() < 0.25:
                    text = _typo(rng, text)  # a second typo now and then
                text = noise[kind](rng, text)
            if text != names[truth] and normalize(text):
                break
        queries.append(Query(text, truth, tuple(sorted(chosen))))
    return queries


# ------------------------------------------------------------------------- cached inputs

def _cached_json(path: Path, make: Any) -> Any:
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    value = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(value, ensure_ascii=False), encoding="utf-8")
    os.replace(temporary, path)
    return value


def name_key(name: str) -> str:
    """What makes two references the same entity here: normalised words, in any order."""
    return " ".join(sorted(normalize(name).split()))


def absent_names(names: Sequence[str], count: int, seed: int) -> list[str]:
    """``count`` names from the same generator (another seed) that are not references."""
    keys = {name_key(name) for name in names}
    found: list[str] = []
    batch = count * 2
    while len(found) < count:
        found = [name for name in reference_names(batch, seed) if name_key(name) not in keys]
        batch *= 2
    return found[:count]


def absent_queries(size: int, names: Sequence[str], query_count: int,
                   seed: int) -> list[Query]:
    """Queries whose entity is not among the references: names made like them (seed + 500),
    with the same noise. ``truth`` is the position in that other list, not a reference."""
    count = query_count // 2
    raw = _cached_json(CACHE / f"absent-{size}-{count}-s{seed}.json",
                       lambda: [[q.text, q.truth, list(q.noise)] for q in make_queries(
                           absent_names(names, count * 2, seed + 500), count, seed + 501)])
    return [Query(text, truth, tuple(noise)) for text, truth, noise in raw]


def dataset(size: int, query_count: int, seed: int) -> tuple[list[str], list[Query]]:
    names = _cached_json(CACHE / f"names-{size}-s{seed}.json",
                         lambda: reference_names(size, seed))
    raw = _cached_json(CACHE / f"queries-{size}-{query_count}-s{seed}.json",
                       lambda: [[q.text, q.truth, list(q.noise)]
                                for q in make_queries(names, query_count, seed)])
    return names, [Query(text, truth, tuple(noise)) for text, truth, noise in raw]


def _brute_force_vectors(names: Sequence[str]) -> tuple[Any, Any]:
    """The library's own TF-IDF (``vectorize.fit``, scikit-learn) of the references, as a
    vocabulary x references matrix, and the fitted vectorizer (``Fitted``)."""
    from entity_matching.vectorize import fit

    fitted = fit([normalize(name) for name in names], ngram=3, sublinear_tf=True)
    return fitted.matrix.T.tocsr(), fitted


def exact_best(size: int, seed: int, names: Sequence[str],
               queries: Sequence[Query]) -> np.ndarray:
    """Each query's best cosine over all references: scipy's sparse product, float64.

    The search code of no method is involved, so this is the yardstick for recall.
    """
    path = CACHE / f"best-{size}-{len(queries)}-s{seed}.npy"
    if path.is_file():
        return np.load(path)
    references, fitted = _brute_force_vectors(names)
    rows = fitted.sklearn_vectorizer.transform([normalize(q.text) for q in queries]).tocsr()
    best = np.zeros(len(queries))
    for start in range(0, len(queries), 100):
        product = (rows[start:start + 100] @ references).toarray()
        best[start:start + 100] = product.max(axis=1)
    np.save(path, best)
    return best


def brute_force(size: int, names: Sequence[str], queries: Sequence[Query],
                args: argparse.Namespace) -> dict[str, Any]:
    """Exact brute force, as the issue's probe ran it: per query, scipy's sparse product with
    every reference vector, then the top k. Timed end to end like ``index.match`` (normalising
    and vectorising included), on every query."""
    import scipy.sparse as sparse

    started = time.perf_counter()
    references, fitted = _brute_force_vectors(names)
    build_s = time.perf_counter() - started
    size_mb = (references.data.nbytes + references.indices.nbytes
               + references.indptr.nbytes) / 1e6

    def top(texts: Sequence[str]) -> list[np.ndarray]:
        """Per text, the references of its k best cosines (the query side vectorised with
        numpy, as the library does; the product stays sparse)."""
        rows = fitted.vectorizer.transform([normalize(text) for text in texts])
        product = (sparse.csr_matrix((rows.data, rows.indices, rows.indptr), shape=rows.shape)
                   @ references).tocsr()
        found = []
        for row in range(product.shape[0]):
            start, end = product.indptr[row], product.indptr[row + 1]
            scores = product.data[start:end]
            best = np.argpartition(-scores, min(K, len(scores)) - 1)[:K] if len(scores) > K \
                else np.arange(len(scores))
            best = best[np.argsort(-scores[best], kind="stable")]
            found.append(product.indices[start:end][best])
        return found

    texts = [query.text for query in queries]
    subset = texts
    latencies = []
    for text in subset:
        began = time.perf_counter_ns()
        top([text])
        latencies.append((time.perf_counter_ns() - began) / 1e6)
    batch_started = time.perf_counter()
    firsts = [found[0] if len(found) else -1 for start in range(0, len(texts), 100)
              for found in top(texts[start:start + 100])]
    batch_s = time.perf_counter() - batch_started
    correct = [int(first) == query.truth for first, query in zip(firsts, queries, strict=True)]
    return {"method": "brute-force", "label": "exact brute force (scipy sparse product with "
            "every reference, then top k)", "size": size, "build_s": round(build_s, 2),
            "size_mb": round(size_mb, 1), "latency_queries": len(subset),
            "p50_ms": round(percentile(latencies, 0.50), 3),
            "p99_ms": round(percentile(latencies, 0.99), 3),
            "mean_ms": round(statistics.fmean(latencies), 3), "batch_threads": 1,
            "batch_qps": round(len(texts) / batch_s, 1), "recall_at_1": 1.0,
            "accuracy": round(statistics.fmean(correct), 4),
            "cost_10m": cost(latencies, MATCHER_MEMORY_MB),
            "cold_start": None}  # it needs scipy and scikit-learn on the query path


def built_index(method: Method, size: int, seed: int, names: Sequence[str],
                rebuild: bool) -> tuple[Path, dict[str, Any]]:
    """The saved index folder for ``method`` (built now or earlier) and its build figures."""
    folder = CACHE / f"index-{size}-s{seed}-{method.build_key()}"
    record = folder.parent / f"{folder.name}.build.json"
    if not rebuild and record.is_file() and (folder / "manifest.json").is_file():
        return folder, json.loads(record.read_text())
    shutil.rmtree(folder, ignore_errors=True)
    ids = [f"E{position:07d}" for position in range(len(names))]
    gc.collect()
    started = time.perf_counter()
    index = EntityIndex.build(ids, names, **method.build_kwargs())
    build_s = time.perf_counter() - started
    started = time.perf_counter()
    index.save(folder)
    save_s = time.perf_counter() - started
    figures = {"build_s": round(build_s, 2), "save_s": round(save_s, 2),
               "threads": os.cpu_count(), "built": datetime.now(UTC).isoformat(
                   timespec="seconds")}
    del index
    gc.collect()
    record.write_text(json.dumps(figures))
    return folder, figures


# ---------------------------------------------------------------------------- measuring

COLD_START = textwrap.dedent("""
    import time
    started = time.perf_counter()
    import json, sys
    from entity_matching import EntityIndex
    imported = time.perf_counter()
    index = EntityIndex.load(sys.argv[1], query_params=json.loads(sys.argv[2]) or None)
    loaded = time.perf_counter()
    index.match(sys.argv[3], k=3)
    matched = time.perf_counter()
    def peak_rss_mb():  # VmHWM: this process's peak, not inherited like ru_maxrss
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return None
    modules = sorted({name.split(".")[0] for name in sys.modules}
                     & {"sklearn", "scipy", "nmslib", "numpy"})
    print(json.dumps({"import_s": imported - started, "load_s": loaded - imported,
                      "first_match_s": matched - loaded, "modules": modules,
                      "max_rss_mb": peak_rss_mb()}))
""")


def cold_start(folder: Path, query_params: dict[str, Any] | None, query: str,
               repeat: int = 3) -> dict[str, Any]:
    """A fresh interpreter: import, load (checksums verified), first match; median of runs."""
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = subprocess.run(  # noqa: S603 (this interpreter, our own script)
            [sys.executable, "-c", COLD_START, str(folder), json.dumps(query_params or {}),
             query], capture_output=True, text=True, check=True, cwd=ROOT,
            env={"PYTHONPATH": str(FUNCTIONS), "PATH": os.environ.get("PATH", "")})
        process_s = time.perf_counter() - started
        run = json.loads(result.stdout.strip().splitlines()[-1])
        run["process_s"] = process_s
        runs.append(run)
    middle = sorted(runs, key=lambda run: run["import_s"] + run["load_s"])[len(runs) // 2]
    return {"import_s": round(middle["import_s"], 3), "load_s": round(middle["load_s"], 3),
            "cold_start_s": round(middle["import_s"] + middle["load_s"], 3),
            "first_match_s": round(middle["first_match_s"], 4),
            "process_s": round(middle["process_s"], 3), "modules": middle["modules"],
            "max_rss_mb": max(run["max_rss_mb"] or 0.0 for run in runs),
            "runs": len(runs)}


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


def cost(latencies_ms: Sequence[float], memory_mb: int) -> dict[str, float]:
    """Lambda cost of REQUESTS requests at the measured durations (each billed up to 1 ms)."""
    billed_ms = statistics.fmean(math.ceil(value) for value in latencies_ms)
    compute = REQUESTS * billed_ms / 1000 * memory_mb / 1024 * PRICE_GB_SECOND
    requests = REQUESTS / 1_000_000 * PRICE_PER_MILLION_REQUESTS
    total = compute + requests
    return {"memory_mb": memory_mb, "billed_ms_mean": round(billed_ms, 3),
            "compute_usd": round(compute, 3), "requests_usd": round(requests, 2),
            "lambda_usd": round(total, 3), "times_below_post": round(POST_LAMBDA_10M / total, 1)}


def measure(method: Method, size: int, names: Sequence[str], queries: Sequence[Query],
            best: np.ndarray, args: argparse.Namespace, *, cold: bool = True) -> dict[str, Any]:
    folder, build = built_index(method, size, args.seed, names, args.rebuild)
    size_mb = sum(path.stat().st_size for path in folder.iterdir()) / 1e6
    threads = os.cpu_count() or 1
    load_params = method.load_params
    # The first stage alone: these rows compare search methods (rerank_eval: the second stage).
    index = EntityIndex.load(folder, query_params=load_params, threads=threads, rerank=False)
    texts = [query.text for query in queries]

    subset = texts
    if method.slow and size >= 500_000:
        subset = texts[:args.latency_queries]
    for text in subset[:20]:  # warm up
        index.match(text, k=K)
    latencies = []
    gc.disable()
    try:
        for text in subset:
            started = time.perf_counter_ns()
            index.match(text, k=K)
            latencies.append((time.perf_counter_ns() - started) / 1e6)
        started = time.perf_counter_ns()
        found = index.match_many(texts, k=K)
        batch_s = (time.perf_counter_ns() - started) / 1e9
    finally:
        gc.enable()

    hits, correct = [], []
    by_noise: dict[str, list[bool]] = {}
    for query, matches, top in zip(queries, found, best, strict=True):
        score = matches[0].score if matches else 0.0
        hits.append(score >= top - 1e-5)
        right = bool(matches) and matches[0].id == f"E{query.truth:07d}"
        correct.append(right)
        for kind in query.noise:
            by_noise.setdefault(kind, []).append(right)
    result = {
        "method": method.key, "label": method.label, "size": size,
        "manifest_method": index.method, "index_params": index.manifest.index_params,
        "query_params": index.manifest.query_params,
        **build, "size_mb": round(size_mb, 1),
        "latency_queries": len(subset),
        "p50_ms": round(percentile(latencies, 0.50), 3),
        "p99_ms": round(percentile(latencies, 0.99), 3),
        "mean_ms": round(statistics.fmean(latencies), 3),
        "batch_threads": threads, "batch_qps": round(len(texts) / batch_s, 1),
        "recall_at_1": round(statistics.fmean(hits), 4),
        "accuracy": round(statistics.fmean(correct), 4),
        "accuracy_by_noise": {kind: round(statistics.fmean(values), 4)
                              for kind, values in sorted(by_noise.items())},
        "cost_10m": cost(latencies, MATCHER_MEMORY_MB),
    }
    if cold:
        result["cold_start"] = cold_start(folder, load_params, texts[0])
    del index
    gc.collect()
    return result


# ------------------------------------------------------------------------- the re-ranker

DEFAULT_MIN_SCORE = 0.5  # the service's default minScore
RELIABILITY_BINS = (0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 0.97, 1.0)
CALIBRATION_SEED = 1_006  # fitting the re-ranker: names and queries the evaluation never uses
CALIBRATION_SIZE = 300_000
CALIBRATION_QUERIES = 6_000


def _answers(found: Sequence[Sequence[Any]], queries: Sequence[Query],
             present: bool) -> list[tuple[float, bool]]:
    """(top score, top is the true entity) per query; (0, False) for no match at all."""
    answers = []
    for query, matches in zip(queries, found, strict=True):
        if not matches:
            answers.append((0.0, False))
            continue
        answers.append((matches[0].score, present and matches[0].id == f"E{query.truth:07d}"))
    return answers


def at_threshold(present: Sequence[tuple[float, bool]], absent: Sequence[tuple[float, bool]],
                 min_score: float) -> dict[str, float]:
    """Precision and recall of the answers given at ``min_score``, and how often a name with no
    true entity gets an answer anyway."""
    given = [right for score, right in present if score >= min_score and score > 0]
    wrong_absent = sum(1 for score, _ in absent if score >= min_score and score > 0)
    answered = len(given) + wrong_absent
    return {"min_score": min_score,
            "precision": round(sum(given) / answered, 4) if answered else 1.0,
            "recall": round(sum(given) / len(present), 4),
            "precision_present_only": round(sum(given) / len(given), 4) if given else 1.0,
            "absent_answered": round(wrong_absent / len(absent), 4),
            "absent_no_match": round(1 - wrong_absent / len(absent), 4)}


def reliability(answers: Sequence[tuple[float, bool]]) -> list[dict[str, Any]]:
    """Predicted (mean top score) against observed (share right) in score bins."""
    rows = []
    for low, high in itertools.pairwise(RELIABILITY_BINS):
        inside = [(score, right) for score, right in answers
                  if low <= score < high or (high == 1.0 and score == 1.0)]
        if inside:
            rows.append({"bin": f"{low:.2f}-{high:.2f}", "count": len(inside),
                         "predicted": round(statistics.fmean(s for s, _ in inside), 3),
                         "observed": round(statistics.fmean(r for _, r in inside), 3)})
    return rows


def _variants(words: list[str]) -> set[tuple[str, ...]]:
    """What the benchmark's word-level noise can make of a reference's words: itself, a word
    dropped (never the first), the first two as initials (legal forms and case are already gone
    after ``normalize``)."""
    variants = {tuple(words)}
    variants.update(tuple(words[:at] + words[at + 1:]) for at in range(1, len(words)))
    if len(words) >= 3:
        variants.add((words[0][0] + words[1][0], *words[2:]))
    return variants


def ambiguity(names: Sequence[str], queries: Sequence[Query]) -> list[int]:
    """Per query, how many references the noise could have turned into the query's normalised
    words (1: only its own; 0: none, e.g. a typo). A matcher that cannot tell those references
    apart is right 1/count of the time at best: the ceiling this benchmark allows."""
    keys = [tuple(normalize(query.text).split()) for query in queries]
    wanted = set(keys)
    counts: Counter[tuple[str, ...]] = Counter()
    for name in names:
        for variant in _variants(normalize(name).split()):
            if variant in wanted:
                counts[variant] += 1
    return [counts.get(key, 0) for key in keys]


def ceiling(queries: Sequence[Query], counts: Sequence[int]) -> dict[str, Any]:
    """The best accuracy possible overall and by noise kind, given ``ambiguity``."""
    best = [1.0 / count if count > 1 else 1.0 for count in counts]
    by_noise: dict[str, list[float]] = {}
    for query, value in zip(queries, best, strict=True):
        for kind in query.noise:
            by_noise.setdefault(kind, []).append(value)
    return {"accuracy": round(statistics.fmean(best), 4),
            "ambiguous_share": round(statistics.fmean(count > 1 for count in counts), 4),
            "accuracy_by_noise": {kind: round(statistics.fmean(values), 4)
                                  for kind, values in sorted(by_noise.items())}}


def rerank_eval(size: int, names: Sequence[str], queries: Sequence[Query],
                absent: Sequence[Query], args: argparse.Namespace) -> dict[str, Any]:
    """The default index with and without the re-ranker, on the same loaded index: accuracy
    (by noise), latency (the re-ranker's added share), precision and recall at the service's
    default minScore with names that have no true entity mixed in, and reliability."""
    folder, _ = built_index(METHODS["default"], size, args.seed, names, args.rebuild)
    index = EntityIndex.load(folder, threads=os.cpu_count() or 1)
    texts = [query.text for query in queries]
    others = [query.text for query in absent]
    result: dict[str, Any] = {"size": size, "queries": len(texts), "absent_queries": len(others),
                              "has_initials": "initials.npz" in index.manifest.artifacts}
    for rerank in (False, True):
        for text in texts[:20]:
            index.match(text, k=K, rerank=rerank)
        latencies = []
        gc.disable()
        try:
            for text in texts:
                started = time.perf_counter_ns()
                index.match(text, k=K, rerank=rerank)
                latencies.append((time.perf_counter_ns() - started) / 1e6)
            started = time.perf_counter_ns()
            found = index.match_many(texts, k=K, rerank=rerank)
            batch_s = (time.perf_counter_ns() - started) / 1e9
        finally:
            gc.enable()
        missing = index.match_many(others, k=K, rerank=rerank)
        present_answers = _answers(found, queries, True)
        absent_answers = _answers(missing, absent, False)
        by_noise: dict[str, list[bool]] = {}
        for query, (_, right) in zip(queries, present_answers, strict=True):
            for kind in query.noise:
                by_noise.setdefault(kind, []).append(right)
        result["rerank" if rerank else "first_stage"] = {
            "p50_ms": round(percentile(latencies, 0.50), 3),
            "p99_ms": round(percentile(latencies, 0.99), 3),
            "mean_ms": round(statistics.fmean(latencies), 3),
            "batch_qps": round(len(texts) / batch_s, 1),
            "accuracy": round(statistics.fmean(right for _, right in present_answers), 4),
            "accuracy_by_noise": {kind: round(statistics.fmean(values), 4)
                                  for kind, values in sorted(by_noise.items())},
            "at_default_min_score": at_threshold(present_answers, absent_answers,
                                                 DEFAULT_MIN_SCORE),
            "thresholds": [at_threshold(present_answers, absent_answers, threshold)
                           for threshold in (0.3, 0.5, 0.7, 0.9)],
            "reliability": reliability([*present_answers, *absent_answers]),
            "_right": [right for _, right in present_answers],
        }
        row = result["rerank" if rerank else "first_stage"]
        print(f"{size:>8} {'rerank' if rerank else 'first stage':<12} p50 {row['p50_ms']:.3f} "
              f"p99 {row['p99_ms']:.3f} ms acc {row['accuracy']:.4f} "
              f"{row['accuracy_by_noise']} @{DEFAULT_MIN_SCORE}: "
              f"{row['at_default_min_score']}", flush=True)
    counts = ambiguity(names, queries)
    result["ceiling"] = ceiling(queries, counts)
    unambiguous = [position for position, count in enumerate(counts) if count <= 1]
    result["unambiguous_queries"] = len(unambiguous)
    for stage in ("first_stage", "rerank"):
        right = result[stage].pop("_right")
        by_noise = {}
        for position in unambiguous:
            for kind in queries[position].noise:
                by_noise.setdefault(kind, []).append(right[position])
        result[stage]["accuracy_unambiguous"] = round(
            statistics.fmean(right[position] for position in unambiguous), 4)
        result[stage]["accuracy_unambiguous_by_noise"] = {
            kind: round(statistics.fmean(values), 4) for kind, values in sorted(by_noise.items())}
    print(f"{size:>8} ceiling {result['ceiling']}; unambiguous: first stage "
          f"{result['first_stage']['accuracy_unambiguous_by_noise']}, rerank "
          f"{result['rerank']['accuracy_unambiguous_by_noise']}", flush=True)
    result["added_p50_ms"] = round(result["rerank"]["p50_ms"] - result["first_stage"]["p50_ms"],
                                   3)
    result["added_p99_ms"] = round(result["rerank"]["p99_ms"] - result["first_stage"]["p99_ms"],
                                   3)
    del index
    gc.collect()
    return result


def abbreviation_rules() -> dict[str, list[str]]:
    """A held-out check: which of this benchmark's abbreviations (``ABBREVIATIONS``, which the
    library never reads) the re-ranker's rules recognise, and how surely."""
    from entity_matching.rerank import abbreviation_strength, split_name

    found: dict[str, list[str]] = {"sure": [], "weak": [], "same word": [], "two words": [],
                                   "not recognised": []}
    for long, shorts in ABBREVIATIONS.items():
        target = split_name(long)[0]
        for short in shorts:
            words = split_name(short)[0]
            pair = f"{short} / {long}"
            if words == target:  # "&" and "+" are the word "and"
                found["same word"].append(pair)
            elif len(target) == 1 and "".join(words) == target[0]:
                found["two words"].append(pair)
            elif len(words) == 1 and len(target) == 1:
                strength = abbreviation_strength(words[0], target[0])
                found["sure" if strength == 1.0 else "weak" if strength else
                      "not recognised"].append(pair)
            else:
                found["not recognised"].append(pair)
    return found


def calibrate(args: argparse.Namespace) -> dict[str, Any]:
    """Fit the re-ranker's two logistic models on a set disjoint from the evaluation's (seed
    ``CALIBRATION_SEED``, rule-made abbreviations, no-match queries included) and print the
    constants for ``entity_matching/rerank.py``."""
    from entity_matching.rerank import FEATURES, NO_RUNNER_UP
    from sklearn.linear_model import LogisticRegression

    names = reference_names(CALIBRATION_SIZE, CALIBRATION_SEED)
    noise = calibration_noise(names)
    queries = make_queries(names, CALIBRATION_QUERIES, CALIBRATION_SEED, noise)
    absent = make_queries(absent_names(names, CALIBRATION_QUERIES, CALIBRATION_SEED + 1),
                          CALIBRATION_QUERIES // 2, CALIBRATION_SEED + 2, noise)
    evaluation = {name_key(name) for name in reference_names(100_000, args.seed)}
    overlap = statistics.fmean(name_key(name) in evaluation for name in names)
    ids = [f"E{position:07d}" for position in range(len(names))]
    index = EntityIndex.build(ids, names)
    features, labels, groups = [], [], []
    for number, (query, present) in enumerate([*((q, True) for q in queries),
                                               *((q, False) for q in absent)]):
        candidates, rows = index._explain(query.text)
        for candidate, row in zip(candidates, rows, strict=True):
            features.append(row)
            labels.append(present and candidate == query.truth)
            groups.append(number)
    matrix = np.asarray(features)
    first = LogisticRegression(C=1.0, max_iter=2000).fit(matrix, labels)
    linear = first.decision_function(matrix)
    tops: dict[int, list[tuple[float, bool]]] = {}
    for group, score, label in zip(groups, linear.tolist(), labels, strict=True):
        tops.setdefault(group, []).append((score, label))
    answer_x, answer_y = [], []
    for number in range(len(queries) + len(absent)):
        scored = sorted(tops.get(number, []), reverse=True)
        if not scored:
            continue
        runner_up = scored[1][0] if len(scored) > 1 else NO_RUNNER_UP
        answer_x.append([scored[0][0], scored[0][0] - runner_up])
        answer_y.append(scored[0][1])
    second = LogisticRegression(C=1.0, max_iter=2000).fit(answer_x, answer_y)
    fitted = {
        "seed": CALIBRATION_SEED, "references": len(names), "queries": len(queries),
        "absent_queries": len(absent), "candidates": len(labels),
        "share_of_names_also_in_evaluation_100k": round(overlap, 4),
        "features": list(FEATURES),
        "candidate_weights": [round(value, 4) for value in first.coef_[0].tolist()],
        "candidate_bias": round(float(first.intercept_[0]), 4),
        "answer_weights": [round(value, 4) for value in second.coef_[0].tolist()],
        "answer_bias": round(float(second.intercept_[0]), 4),
    }
    print(json.dumps(fitted, indent=2))
    return fitted


SWEEP = ((0.0, 100), (0.3, 100), (0.4, 100), (0.5, 30), (0.5, 100), (0.5, 300), (0.6, 100),
         (0.7, 100))


def sweep(size: int, names: Sequence[str], queries: Sequence[Query], best: np.ndarray,
          args: argparse.Namespace) -> list[dict[str, Any]]:
    """The default index loaded with other (skipBound, candidates): why the defaults."""
    rows = []
    for bound, candidates in SWEEP:
        variant = Method(f"sweep-{bound}-{candidates}", f"skipBound {bound}, candidates "
                         f"{candidates}", None,
                         load_params={"skipBound": bound, "candidates": candidates})
        row = measure(variant, size, names, queries, best, args, cold=False)
        rows.append({key: row[key] for key in (
            "size", "query_params", "p50_ms", "p99_ms", "mean_ms", "batch_qps", "recall_at_1",
            "accuracy")})
        print(f"{size:>8} sweep skipBound {bound:<4} candidates {candidates:<4} p50 "
              f"{row['p50_ms']:>7.3f} p99 {row['p99_ms']:>7.3f} mean {row['mean_ms']:>7.3f} ms "
              f"recall {row['recall_at_1']:.4f} acc {row['accuracy']:.4f}", flush=True)
    return rows


def hnsw_probe(size: int, names: Sequence[str], queries: Sequence[Query],
               best: np.ndarray, args: argparse.Namespace) -> list[dict[str, Any]]:
    """nmslib's HNSW on the same sparse vectors (not a library method): build, binary load,
    latency and recall at a few efSearch. Raw nmslib, so timings exclude the library's
    normalisation and result handling (about 0.1 ms)."""
    import nmslib
    import scipy.sparse as sparse

    folder, _ = built_index(METHODS["default"], size, args.seed, names, rebuild=False)
    index = EntityIndex.load(folder, verify=False)
    search: Any = index._search  # the posting lists: the reference vectors, column by column
    vectors = sparse.csr_matrix((search.weights, search.references, search.indptr),
                                shape=(len(search.indptr) - 1, search.count)).T.tocsr()
    vectors.sort_indices()
    rows = index._vectorizer.transform([normalize(query.text) for query in queries])
    params = {"M": 16, "efConstruction": 200}
    saved = CACHE / f"hnsw-{size}-s{args.seed}.bin"

    def fresh() -> Any:
        graph = nmslib.init(method="hnsw", space="cosinesimil_sparse_fast",
                            data_type=nmslib.DataType.SPARSE_VECTOR,
                            dtype=nmslib.DistType.FLOAT)
        graph.addDataPointBatch(vectors)
        return graph

    record = saved.with_suffix(".json")
    if saved.is_file() and record.is_file() and not args.rebuild:
        build_s = json.loads(record.read_text())["build_s"]
    else:
        graph = fresh()
        started = time.perf_counter()
        graph.createIndex({**params, "indexThreadQty": os.cpu_count() or 1})
        build_s = time.perf_counter() - started
        graph.saveIndex(str(saved), save_data=False)
        record.write_text(json.dumps({"build_s": round(build_s, 1)}))
    graph = fresh()
    started = time.perf_counter()
    graph.loadIndex(str(saved), load_data=False)
    load_s = time.perf_counter() - started
    results = []
    for ef in (100, 400):
        graph.setQueryTimeParams({"efSearch": ef})
        latencies, hits = [], []
        for position in range(rows.shape[0]):
            row = rows.take(np.array([position]))
            started = time.perf_counter_ns()
            found = graph.knnQueryBatch(row, k=K, num_threads=1)
            latencies.append((time.perf_counter_ns() - started) / 1e6)
            distances = found[0][1]
            score = 1.0 - float(distances[0]) if len(distances) else 0.0
            hits.append(score >= best[position] - 1e-5)
        results.append({"size": size, "method": "hnsw (raw nmslib)", "index_params": params,
                        "efSearch": ef, "build_s": round(build_s, 1),
                        "graph_mb": round(saved.stat().st_size / 1e6, 1),
                        "graph_load_s": round(load_s, 3),
                        "p50_ms": round(percentile(latencies, 0.5), 3),
                        "p99_ms": round(percentile(latencies, 0.99), 3),
                        "recall_at_1": round(statistics.fmean(hits), 4)})
        print(f"{size:>8} hnsw M16 efC200 efSearch {ef}: build {build_s:.1f}s load "
              f"{load_s:.3f}s p50 {results[-1]['p50_ms']:.3f} ms recall "
              f"{results[-1]['recall_at_1']:.4f}", flush=True)
    return results


# ---------------------------------------------------------------------------------- main

def machine() -> dict[str, Any]:
    model = cpu_model()
    import nmslib

    return {"cpu": model, "cores": os.cpu_count(), "arch": platform.machine(),
            "python": f"{platform.python_implementation()} {platform.python_version()}",
            "numpy": np.__version__, "nmslib": nmslib.__version__,
            "load_average": [round(value, 2) for value in os.getloadavg()],
            "note": "other work shared this machine during the run"}


def print_row(row: dict[str, Any]) -> None:
    cold = row["cold_start"] or {"cold_start_s": math.nan}
    print(f"{row['size']:>8} {row['method']:<15} build {row['build_s']:>7.1f}s "
          f"{row['size_mb']:>7.1f}MB p50 {row['p50_ms']:>8.3f} p99 {row['p99_ms']:>8.3f} ms "
          f"batch {row['batch_qps']:>8.1f} q/s recall {row['recall_at_1']:.4f} "
          f"acc {row['accuracy']:.4f} cold {cold['cold_start_s']:.2f}s "
          f"${row['cost_10m']['lambda_usd']:.2f}/10M", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--methods", nargs="+", default=list(DEFAULT_METHODS),
                        choices=sorted(METHODS))
    parser.add_argument("--latency-queries", type=int, default=500,
                        help="single-query timings for the slow methods at 500k names or more")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--rebuild", action="store_true", help="build cached indexes again")
    parser.add_argument("--sweep", type=int, nargs="*", default=[1_000_000], metavar="SIZE",
                        help="sizes at which to sweep the default's query parameters")
    parser.add_argument("--hnsw", type=int, nargs="*", default=[100_000], metavar="SIZE",
                        help="sizes at which to probe nmslib's HNSW (not a library method)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--rerank", type=int, nargs="*", default=[100_000, 1_000_000],
                        metavar="SIZE", help="sizes at which to measure the re-ranker")
    parser.add_argument("--merge", action="store_true",
                        help="keep the output's earlier rows for what this run does not measure")
    parser.add_argument("--calibrate", action="store_true",
                        help="fit the re-ranker's constants (printed) and stop")
    args = parser.parse_args()
    if args.calibrate:
        calibrate(args)
        return

    started = time.perf_counter()
    document: dict[str, Any] = {
        "abbreviation_rules": abbreviation_rules(),
        "recorded": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(), "seed": args.seed, "queries": args.queries, "k": K,
        "prices": {"arm64_gb_second_usd": PRICE_GB_SECOND,
                   "per_million_requests_usd": PRICE_PER_MILLION_REQUESTS,
                   "source": "AWS Lambda pricing page, us-east-1, arm64, first tier; "
                             "unchanged since arm64 launched (2021-09-29)",
                   "billing": "per request, duration rounded up to 1 ms"},
        "post": {"lambda_10m_usd": POST_LAMBDA_10M, "total_10m_usd": POST_TOTAL_10M,
                 "target_lambda_10m_usd": round(POST_LAMBDA_10M / 50, 3)},
        "results": [],
    }
    for size in args.sizes:
        phase = time.perf_counter()
        names, queries = dataset(size, args.queries, args.seed)
        best = exact_best(size, args.seed, names, queries)
        document.setdefault("data_s", {})[str(size)] = round(time.perf_counter() - phase, 1)
        print(f"{size}: {len(names)} names, {len(queries)} queries, noise "
              f"{dict(Counter(kind for q in queries for kind in q.noise))}", flush=True)
        brute = brute_force(size, names, queries, args)
        document["results"].append(brute)
        print_row(brute)
        for key in args.methods:
            if (limit := METHODS[key].max_size) is not None and size > limit:
                continue
            row = measure(METHODS[key], size, names, queries, best, args)
            row["p50_vs_brute_force"] = round(brute["p50_ms"] / row["p50_ms"], 2)
            document["results"].append(row)
            print_row(row)
        if size in args.rerank:
            absent = absent_queries(size, names, args.queries, args.seed)
            document.setdefault("rerank", []).append(
                rerank_eval(size, names, queries, absent, args))
        if size in args.sweep:
            document.setdefault("sweep", []).extend(sweep(size, names, queries, best, args))
        if size in args.hnsw:
            document.setdefault("hnsw_probe", []).extend(
                hnsw_probe(size, names, queries, best, args))
        del names, queries
        gc.collect()
    if args.merge and args.output.is_file():
        document = merged(json.loads(args.output.read_text(encoding="utf-8")), document)
    write_results(document, args.output, started)


def merged(earlier: dict[str, Any], now: dict[str, Any]) -> dict[str, Any]:
    """``now``, with ``earlier``'s rows for the (method, size) pairs and sections it lacks."""
    measured = {(row["method"], row["size"]) for row in now["results"]}
    now["results"] = [*(row for row in earlier.get("results", [])
                        if (row["method"], row["size"]) not in measured), *now["results"]]
    for key in ("sweep", "hnsw_probe", "rerank", "data_s"):
        if key not in now and key in earlier:
            now[key] = earlier[key]
    now["merged_from"] = earlier.get("recorded")
    return now


if __name__ == "__main__":
    main()
