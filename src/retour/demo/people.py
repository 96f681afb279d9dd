"""Demo customers: mostly in France, some in Belgium, Switzerland and Germany. Emails use the
reserved ``example.*`` domains so that nothing is ever sent to a real mailbox."""

from __future__ import annotations

import hashlib
import random
import unicodedata
from dataclasses import dataclass

VIP_EMAIL = "helene.vasseur@example.com"

_FIRST_FR = (
    "Camille", "Léa", "Manon", "Chloé", "Inès", "Sarah", "Julie", "Emma", "Louise", "Alice", "Clara", "Anaïs",
    "Margaux", "Pauline", "Élodie", "Mathilde", "Océane", "Juliette", "Zoé", "Lucie", "Charlotte", "Nadia",
    "Yasmine", "Sophie", "Isabelle", "Nathalie", "Thomas", "Nicolas", "Julien", "Antoine", "Hugo", "Karim",
    "Maxime", "Alexandre", "Romain", "Lucas", "Mehdi", "Paul",
)  # fmt: skip
_LAST_FR = (
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau", "Simon",
    "Laurent", "Lefebvre", "Michel", "Garcia", "David", "Bertrand", "Roux", "Vincent", "Fournier", "Morel",
    "Girard", "André", "Mercier", "Dupont", "Lambert", "Bonnet", "François", "Martinez", "Legrand", "Garnier",
    "Faure", "Rousseau", "Blanc", "Guérin", "Muller", "Henry", "Roussel", "Nicolas", "Perrin", "Mathieu",
    "Chevalier", "Benoît", "Haddad", "Nguyen", "Ferreira",
)  # fmt: skip
_LAST_BE = ("Peeters", "Janssens", "Maes", "Jacobs", "Dupont", "Lambert", "Dubois", "Renard", "Lemaire", "Claes")
_LAST_CH = ("Favre", "Rochat", "Müller", "Meier", "Bonvin", "Perret", "Jaquet", "Gerber", "Blanc", "Monnier")
_FIRST_DE = ("Anna", "Lena", "Marie", "Hannah", "Leonie", "Jonas", "Lukas", "Felix", "Katrin", "Sabine")
_LAST_DE = ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Wagner", "Becker", "Hoffmann", "Koch", "Richter")

_POSTAL = {
    "FR": ("75011", "75017", "69003", "13006", "33000", "44000", "31000", "67000", "59000", "35000", "06000", "34000"),
    "BE": ("1000", "1050", "4000", "5000", "1300"),
    "CH": ("1201", "1003", "2000", "1700", "1950"),
    "DE": ("10115", "80331", "50667", "20095", "60311"),
}
_DOMAINS = ("example.com", "example.org", "example.net")
_CITY = {
    "75011": "Paris",
    "75016": "Paris",
    "75017": "Paris",
    "69003": "Lyon",
    "13006": "Marseille",
    "33000": "Bordeaux",
    "44000": "Nantes",
    "31000": "Toulouse",
    "67000": "Strasbourg",
    "59000": "Lille",
    "35000": "Rennes",
    "06000": "Nice",
    "34000": "Montpellier",
    "1000": "Bruxelles",
    "1050": "Ixelles",
    "4000": "Liège",
    "5000": "Namur",
    "1300": "Wavre",
    "1201": "Genève",
    "1003": "Lausanne",
    "2000": "Neuchâtel",
    "1700": "Fribourg",
    "1950": "Sion",
    "10115": "Berlin",
    "80331": "München",
    "50667": "Köln",
    "20095": "Hamburg",
    "60311": "Frankfurt am Main",
}
_STREETS = {
    "FR": ("rue de la République", "avenue Jean Jaurès", "rue Victor Hugo", "boulevard Gambetta", "rue Pasteur"),
    "BE": ("rue Royale", "avenue Louise", "rue Neuve", "chaussée de Wavre"),
    "CH": ("rue du Rhône", "avenue de la Gare", "rue de Bourg", "Grand-Rue"),
    "DE": ("Hauptstraße", "Bahnhofstraße", "Gartenstraße", "Schillerstraße"),
}


@dataclass(frozen=True)
class DemoCustomer:
    email: str
    name: str
    language: str
    country: str
    postal_code: str
    tags: tuple[str, ...] = ()

    @property
    def is_vip(self) -> bool:
        return "vip" in self.tags


VIP = DemoCustomer(VIP_EMAIL, "Hélène Vasseur", "fr", "FR", "75016", ("vip",))


def build_customers(rng: random.Random, count: int) -> list[DemoCustomer]:
    """``count`` distinct customers (the VIP not included)."""
    customers: list[DemoCustomer] = []
    seen = {VIP_EMAIL}
    while len(customers) < count:
        customer = _customer(rng, len(customers))
        if customer.email not in seen:
            seen.add(customer.email)
            customers.append(customer)
    return customers


def _customer(rng: random.Random, n: int) -> DemoCustomer:
    country = rng.choices(("FR", "BE", "CH", "DE"), weights=(80, 10, 6, 4))[0]
    if country == "DE":
        first, last, language = rng.choice(_FIRST_DE), rng.choice(_LAST_DE), "en"
    else:
        first = rng.choice(_FIRST_FR)
        last = rng.choice({"FR": _LAST_FR, "BE": _LAST_BE, "CH": _LAST_CH}[country])
        english = {"FR": 0.06, "BE": 0.12, "CH": 0.25}[country]
        language = "en" if rng.random() < english else "fr"
    email = f"{_ascii(first)}.{_ascii(last)}{n % 97 if rng.random() < 0.4 else ''}@{rng.choice(_DOMAINS)}"
    return DemoCustomer(email, f"{first} {last}", language, country, rng.choice(_POSTAL[country]))


def _ascii(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain.lower() if ch.isalnum())


def street_address(customer: DemoCustomer) -> tuple[str, str]:
    """A made-up street line and the city of the customer's postal code, derived from the email
    (not from the generator: adding addresses left every other demo choice as it was)."""
    digest = int(hashlib.sha256(customer.email.encode()).hexdigest(), 16)
    streets = _STREETS[customer.country]
    number, name = 1 + digest % 120, streets[(digest // 120) % len(streets)]
    line = f"{name} {number}" if customer.country == "DE" else f"{number} {name}"
    return line, _CITY.get(customer.postal_code, "")
