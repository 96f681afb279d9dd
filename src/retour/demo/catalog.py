"""The Maison Lune catalogue: rings, necklaces, earrings and bracelets, in the shapes the API takes.

``build_catalog()`` is deterministic and needs no database, so the benchmark can reuse it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal

from retour.catalog.schemas import ProductIn, VariantIn

RING_SIZES = ("48", "50", "52", "54", "56", "58", "60")
BRACELET_SIZES = ("S", "M", "L")
NECKLACE_LENGTHS = ("40 cm", "45 cm")

# Metal code for SKUs, label shown to customers, multiplier on the product's base weight.
METALS = {"OJ": "or jaune", "OB": "or blanc", "AG": "argent"}
_METAL_TAG = {"OJ": "or-18k", "OB": "or-18k", "AG": "argent-925"}
_PICTURE_SHAPES = {"rings": "ring", "necklaces": "necklace", "earrings": "earrings", "bracelets": "bracelet"}
_PICTURE_METALS = {"or jaune": "yellow-gold", "or blanc": "white-gold", "argent": "silver"}
PICTURES_URL = "/static/demo"
"""Where the app serves the demo's pictures (``retour/static/demo``): one per category and metal."""


def picture_url(category: str, metal: str) -> str:
    """The picture of a piece of ``category`` in ``metal`` (its label, ``or jaune``)."""
    return f"{PICTURES_URL}/{_PICTURE_SHAPES[category]}-{_PICTURE_METALS[metal]}.svg"


@dataclass(frozen=True)
class _Model:
    code: str
    title: str
    category: str
    prices: dict[str, int]
    """Metal code → price in euros."""
    grams: float
    stone: str | None = None
    sizes: tuple[str, ...] = ()
    size_key: str = "taille"
    tags: tuple[str, ...] = ()
    engraved: bool = False
    """Engraved to order: final sale."""


_MODELS: tuple[_Model, ...] = (
    # Rings: every size from 48 to 60.
    _Model("BA-CROISSANT", "Bague Croissant de Lune", "rings", {"AG": 79, "OJ": 420, "OB": 440}, 3.1, sizes=RING_SIZES),
    _Model(
        "BA-ECLIPSE",
        "Solitaire Éclipse diamant 0,30 ct",
        "rings",
        {"OJ": 1450, "OB": 1490},
        2.8,
        stone="diamant",
        sizes=RING_SIZES,
        tags=("fiançailles",),
    ),
    _Model("BA-ORBITE", "Alliance Orbite", "rings", {"AG": 129, "OJ": 690, "OB": 720}, 3.6, sizes=RING_SIZES),
    _Model(
        "BA-CONSTELLATION",
        "Bague Constellation saphirs",
        "rings",
        {"OB": 1890},
        3.4,
        stone="saphir",
        sizes=RING_SIZES,
    ),
    _Model("BA-PERLE", "Bague Perle de Lune", "rings", {"AG": 89}, 2.6, stone="perle d'eau douce", sizes=RING_SIZES),
    _Model(
        "BA-ETOILE",
        "Bague Étoile Filante",
        "rings",
        {"AG": 69, "OJ": 360},
        2.2,
        stone="topaze blanche",
        sizes=RING_SIZES,
        tags=("best-seller",),
    ),
    _Model("BA-MAREE", "Jonc Marée", "rings", {"AG": 59}, 2.4, sizes=RING_SIZES),
    _Model(
        "BA-CHEVALIERE-GRAVEE",
        "Chevalière Céleste gravée",
        "rings",
        {"AG": 169, "OJ": 590},
        6.2,
        sizes=RING_SIZES,
        tags=("gravure", "personnalisé"),
        engraved=True,
    ),
    # Necklaces.
    _Model(
        "CO-PLEINE-LUNE",
        "Collier Pleine Lune nacre",
        "necklaces",
        {"AG": 89, "OJ": 390},
        4.1,
        stone="nacre",
        sizes=NECKLACE_LENGTHS,
        size_key="longueur",
        tags=("best-seller",),
    ),
    _Model("CO-VOIE-LACTEE", "Sautoir Voie Lactée", "necklaces", {"OJ": 980}, 7.8),
    _Model("CO-RIVIERE", "Collier Rivière Céleste diamants", "necklaces", {"OB": 1900}, 6.4, stone="diamant"),
    _Model(
        "CO-FORCAT",
        "Chaîne forçat fine",
        "necklaces",
        {"AG": 39, "OJ": 290},
        2.9,
        sizes=NECKLACE_LENGTHS,
        size_key="longueur",
    ),
    _Model("CO-PERLE", "Collier Perle Solitaire", "necklaces", {"OJ": 249}, 3.0, stone="perle d'eau douce"),
    _Model(
        "CO-MEDAILLE-GRAVEE",
        "Médaille Lune gravée au prénom",
        "necklaces",
        {"AG": 119, "OJ": 490},
        4.5,
        tags=("gravure", "personnalisé"),
        engraved=True,
    ),
    # Earrings.
    _Model("BO-CREOLES", "Créoles Orbite", "earrings", {"AG": 69, "OJ": 340}, 3.8, tags=("percées",)),
    _Model("BO-PUCES", "Puces Étoile", "earrings", {"AG": 39, "OJ": 149}, 1.2, stone="zircon", tags=("percées",)),
    _Model(
        "BO-GOUTTE",
        "Pendants Goutte de Lune",
        "earrings",
        {"OB": 560},
        3.3,
        stone="pierre de lune",
        tags=("percées",),
    ),
    _Model(
        "BO-TAHITI",
        "Boucles Perles de Tahiti",
        "earrings",
        {"OJ": 790},
        4.6,
        stone="perle de Tahiti",
        tags=("percées",),
    ),
    _Model("BO-CUFF", "Bijou d'oreille Comète", "earrings", {"AG": 45}, 1.6, tags=("sans-piercing",)),
    # Bracelets.
    _Model("BR-JONC", "Jonc Lune", "bracelets", {"AG": 79, "OJ": 690}, 9.5, sizes=BRACELET_SIZES),
    _Model("BR-CONSTELLATION", "Bracelet chaîne Constellation", "bracelets", {"AG": 59, "OJ": 320}, 3.9),
    _Model("BR-TENNIS", "Bracelet Tennis Éclipse", "bracelets", {"OB": 1850}, 8.7, stone="diamant"),
    _Model("BR-CORDON", "Bracelet cordon Croissant", "bracelets", {"AG": 39}, 1.9),
    _Model(
        "BR-GOURMETTE-GRAVEE",
        "Gourmette gravée aux initiales",
        "bracelets",
        {"AG": 99},
        7.4,
        tags=("gravure", "personnalisé"),
        engraved=True,
    ),
)

_GOLD_WEIGHT = 1.35  # 18-carat gold is denser than sterling silver


def build_catalog() -> list[ProductIn]:
    """Every product of the demo shop, with variants per metal (and size where it applies).
    SKUs look like ``ML-BA-CROISSANT-OJ-52``; prices are in euro cents."""
    return [_product(model) for model in _MODELS]


def _stock(sku: str) -> int:
    """Units in stock, from the SKU alone (the rest of the demo does not move): about one variant
    in ten sold out, a few with one or two left, so that the portal's exchange shows all cases."""
    draw = int(hashlib.sha256(sku.encode()).hexdigest(), 16) % 100
    return 0 if draw < 10 else 1 + draw % 2 if draw < 25 else 3 + draw % 10


def _product(model: _Model) -> ProductIn:
    variants = []
    for metal, euros in model.prices.items():
        for size in model.sizes or (None,):
            attributes = {"métal": METALS[metal]}
            if model.stone:
                attributes["pierre"] = model.stone
            if size is not None:
                attributes[model.size_key] = size
            if model.engraved:
                attributes["gravure"] = "personnalisée"
            grams = model.grams * (_GOLD_WEIGHT if metal != "AG" else 1.0)
            sku = "-".join(["ML", model.code, metal, *([size.replace(" cm", "")] if size else [])])
            variants.append(
                VariantIn(
                    sku=sku,
                    title=" / ".join([METALS[metal], *([size] if size else [])]),
                    price_amount=euros * 100,
                    is_final_sale=model.engraved,
                    weight_grams=max(Decimal("0.1"), Decimal(grams).quantize(Decimal("0.1"))),
                    inventory_quantity=_stock(sku),
                    attributes=attributes,
                )
            )
    tags = sorted({*model.tags, *(_METAL_TAG[metal] for metal in model.prices)})
    return ProductIn(
        external_id=f"ml-{model.code.lower()}",
        title=model.title,
        category=model.category,
        tags=tags,
        image_url=picture_url(model.category, METALS[next(iter(model.prices))]),
        currency="EUR",
        variants=variants,
    )
