"""Invented listing text for the generated bench site: vendor offers, benign ads, novel words.

Every text is a function of a `random.Random` the caller seeds, so a site is the same on every
run. Offers read like the market pages SynthWatch is for (substance, quantities and prices,
stealth shipping, payment, a contact handle, a research-chemical disclaimer); benign listings
are shop, classified and news text, some naming a substance in a harm-reduction or news
context. Names, handles, phone numbers (Ofcom's drama range) and e-mail addresses
(`example.com`) are made up. The novel-vocabulary text is ~400 tokens spaCy has never seen:
product codes, invented names and handles, different on every page.
"""

from __future__ import annotations

import random
import string

# ~2 KB of listing text a page: the size the pipeline's targets are stated for (issue 13).
LISTING_CHARS = 2000
NOVEL_WORDS = 400

_SYLLABLES = (
    "ka", "ro", "vex", "lin", "tor", "mi", "zan", "qu", "el", "dra", "sy", "non", "pha", "bel",
    "kor", "ul", "tri", "ven", "osh", "ari", "gly", "mox", "ter", "yan", "fi", "dex", "sol",
)  # fmt: skip

_SUBSTANCES = (
    ("Protonitazene", "protonitazene HCl"),
    ("Metonitazene", "metonitazene"),
    ("Isotonitazene", "isotonitazene"),
    ("Fentanyl", "fentanyl citrate"),
    ("Carfentanil", "carfentanil"),
    ("Acetylfentanyl", "acetyl fentanyl"),
    ("Bromazolam", "bromazolam"),
    ("Flualprazolam", "flualprazolam"),
    ("Eutylone", "eutylone crystal"),
    ("3-MMC", "3-MMC"),
    ("Alpha-PVP", "a-PVP"),
    ("MDMB-4en-PINACA", "MDMB-4en-PINACA"),
    ("ADB-BUTINACA", "ADB-BUTINACA"),
    ("4-ANPP", "4-ANPP (CAS 21409-26-7)"),
    ("NPP", "N-phenethyl-4-piperidone (NPP), CAS 39742-60-4"),
    ("1-Boc-4-piperidone", "1-Boc-4-piperidone CAS 79099-07-3"),
)
_FORMS = ("powder", "crystal", "pellets", "blotters", "pressed tablets", "solution")

_OFFER_LINES = (
    "Welcome to our shop, we have been supplying research chemicals since 2019 with more than "
    "{sales} happy customers worldwide.",
    "Purity {purity}% confirmed by HPLC and GC-MS, COA supplied with every batch on request.",
    "Price list: {q1}g ${p1}, {q2}g ${p2}, {q3}g ${p3}. Bulk orders from 1 kg get a custom quote.",
    "MOQ {q1} g. Samples available for new buyers who place a first order above ${p2}.",
    "Stealth shipping: vacuum sealed, double bagged, odour proof, sent in plain envelopes with "
    "no return address.",
    "Customs clearance guaranteed to the USA, Canada, UK, EU and Australia. Reship for free if "
    "the parcel is seized, once tracking shows it stuck for 10 days.",
    "Payment: BTC, XMR or USDT (TRC20) only. No PayPal, no cards, no refunds after dispatch.",
    "Contact us on Wickr: {handle} or Telegram @{handle2} for fast replies, 24/7 support.",
    "WhatsApp {phone} for the wholesale price list and the current stock levels.",
    "E-mail orders to {email} and include your order ID in the subject line.",
    "For research purposes only, not for human consumption. Buyer is responsible for local laws.",
    "Domestic delivery 2-4 days, international 7-14 days with express courier and tracking.",
    "Stock is limited this week: {q3}g left of the current batch, next batch in {days} days.",
    "Repeat customers get 10% off; leave a review after delivery and we add a free sample.",
)
_BENIGN = (
    (
        "Borosilicate glass beaker set",
        (
            "Set of five borosilicate beakers, 50 ml to 1000 ml, with printed graduations.",
            "Suitable for school labs and home brewing; dishwasher safe, heat resistant to 500 C.",
            "Price {p1} GBP for the set, free delivery on orders over {p2} GBP.",
            "Ships from our warehouse in two working days. Returns accepted within 30 days.",
        ),
    ),
    (
        "Piano lessons for beginners and returners",
        (
            "Patient, friendly teacher with fifteen years of experience; all ages welcome.",
            "Lessons at my home studio or online, {q1} minutes each, first lesson half price.",
            "Grades 1 to 8, theory and sight reading; recitals twice a year for students.",
            "Message {email} to book a trial lesson on a weekday evening.",
        ),
    ),
    (
        "Organic garden fertiliser, 25 kg",
        (
            "Slow release pelleted chicken manure, certified organic, for lawns and vegetables.",
            "One bag feeds about {q2} square metres; spread in spring and late summer.",
            "Collection from the farm shop or local delivery for {p1} GBP within ten miles.",
            "Keep dry and out of reach of pets. Bulk pallets available for allotment societies.",
        ),
    ),
    (
        "Free fentanyl test strips at the drop-in centre",
        (
            "Harm reduction workers hand out fentanyl test strips and naloxone kits on Tuesdays.",
            "Nitazenes have been found in pills sold as oxycodone; a strip does not detect them.",
            "Never use alone, start low and go slow, and call emergency services in an overdose.",
            "The service is free and confidential; ask for {name} at the front desk.",
        ),
    ),
    (
        "Police seize precursor chemicals at the port",
        (
            "Customs officers seized {q2} kg of precursor chemicals declared as cleaning agents.",
            "Investigators said the shipment contained 4-ANPP, used to make fentanyl.",
            "Two people were arrested and the case was referred to prosecutors, police said.",
            "The agency urged shipping firms to report suspicious orders of such chemicals.",
        ),
    ),
    (
        "Vintage road bicycle, steel frame",
        (
            "Classic 1980s steel frame, 56 cm, new tyres and brake pads, serviced last month.",
            "Twelve gears, original paint with a few scratches, rides beautifully.",
            "Asking {p1} GBP, collection only; call {phone} after 6 pm.",
            "No offers by text message please; happy to let you test ride it first.",
        ),
    ),
)
_REVIEW_LINES = (
    "Review: arrived in five days, well packed, exactly as described. Would order again.",
    "Review: communication was slow but the package came in the end. Three stars.",
    "Review: second order from this seller, consistent quality, thanks.",
    "Review: the tracking number did not work for a week, then it all updated at once.",
)


def word(rng: random.Random, syllables: int = 2) -> str:
    """Return an invented word of a few syllables."""
    return "".join(rng.choice(_SYLLABLES) for _ in range(syllables))


def handle(rng: random.Random) -> str:
    """Return an invented contact handle, e.g. `korvex_tri41`."""
    return f"{word(rng)}_{word(rng, 1)}{rng.randrange(10, 99)}"


def person(rng: random.Random) -> str:
    """Return an invented first and last name."""
    return f"{word(rng).title()} {word(rng, 3).title()}"


def _fill(line: str, rng: random.Random) -> str:
    q1 = rng.choice((1, 5, 10, 25))
    return line.format(
        sales=rng.randrange(300, 9000),
        purity=rng.choice(("98.5", "99.1", "99.6", "99.8")),
        q1=q1,
        q2=q1 * rng.choice((5, 10)),
        q3=q1 * rng.choice((20, 50, 100)),
        p1=rng.randrange(20, 90),
        p2=rng.randrange(150, 600),
        p3=rng.randrange(900, 4000),
        days=rng.randrange(3, 15),
        handle=handle(rng),
        handle2=handle(rng),
        phone=f"+44 7700 900{rng.randrange(0, 1000):03d}",
        email=f"{word(rng)}@example.com",
        name=person(rng).split()[0],
    )


def _grow(rng: random.Random, lines: list[str], pool: tuple[str, ...], size: int) -> str:
    # Pad with more of the same voice (and reviews) until the text is ~`size` characters.
    while sum(len(line) + 1 for line in lines) < size:
        lines.append(_fill(rng.choice(pool + _REVIEW_LINES), rng))
    return "\n".join(lines)[:size].rsplit(" ", 1)[0]


def offer(rng: random.Random, size: int = LISTING_CHARS) -> tuple[str, str]:
    """Return the title and ~`size` characters of an invented vendor's offer."""
    title_name, text_name = rng.choice(_SUBSTANCES)
    form = rng.choice(_FORMS)
    title = f"{title_name} {form} {rng.choice(('99%', 'high purity', 'top grade'))} in stock"
    lines = [f"{text_name} {form}, {_fill('{q1}g to 1kg', rng)}, ships worldwide."]
    lines += [_fill(line, rng) for line in rng.sample(_OFFER_LINES, 6)]
    return title, _grow(rng, lines, _OFFER_LINES, size)


def benign(rng: random.Random, size: int = LISTING_CHARS) -> tuple[str, str]:
    """Return the title and ~`size` characters of an invented benign listing or news item."""
    title, pool = rng.choice(_BENIGN)
    lines = [_fill(line, rng) for line in pool]
    return title, _grow(rng, lines, pool, size)


def listing(rng: random.Random, offer_share: float = 0.4) -> tuple[str, str, bool]:
    """Return (title, text, is_offer) of one listing: an offer with `offer_share` odds."""
    if rng.random() < offer_share:
        return (*offer(rng), True)
    return (*benign(rng), False)


def novel_token(rng: random.Random) -> str:
    """Return one token no tokenizer's vocabulary holds: a code, a name or a handle."""
    kind = rng.random()
    if kind < 0.4:
        letters = "".join(rng.choices(string.ascii_uppercase, k=rng.randrange(2, 4)))
        tail = "".join(rng.choices(string.ascii_lowercase + string.digits, k=3))
        return f"{letters}-{rng.randrange(100, 99999)}{tail}"
    if kind < 0.7:
        return word(rng, rng.randrange(2, 4)).title() + rng.choice(("", "ov", "sen", "ini"))
    return f"@{word(rng)}{rng.randrange(0, 9999)}{rng.choice(string.ascii_lowercase)}"


def novel(rng: random.Random, words: int = NOVEL_WORDS) -> tuple[str, str]:
    """Return the title and text of a listing of `words` novel tokens, a few plain words among."""
    tokens = [novel_token(rng) for _ in range(words)]
    for at in range(0, words, 12):
        tokens[at] = rng.choice(("in stock", "price", "ships", "contact", "new", "batch", "lot"))
    return f"Lot {novel_token(rng)} {novel_token(rng)}", " ".join(tokens)
