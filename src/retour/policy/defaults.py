"""What a new shop starts with: a sensible policy and the usual reason tree."""

from __future__ import annotations

from typing import Any

DEFAULT_POLICY: dict[str, Any] = {
    "defaults": {
        "window_days": 30,
        "window_from": "delivery",
        "resolutions": ["refund", "store_credit", "exchange"],
        "methods": ["prepaid_label", "drop_off", "customer_ships"],
        "return_shipping_fee_amount": 0,
        "auto_approve": True,
    },
    "rules": [
        {
            "id": "final-sale",
            "name": {"en": "Final sale", "fr": "Vente définitive"},
            "when": {"is_final_sale": True},
            "then": {
                "deny": True,
                "message": {
                    "en": "Final-sale items (such as engraved or personalised pieces) cannot be returned.",
                    "fr": "Les articles en vente définitive (gravés ou personnalisés) ne peuvent pas être retournés.",
                },
            },
        },
        {
            "id": "our-mistake",
            "name": {"en": "Our mistake", "fr": "Notre erreur"},
            "when": {"reasons": ["damaged", "defective", "wrong_item"]},
            "then": {"waive_fees": True, "photos_required": True},
        },
    ],
}

# (code, parent, English, French, photo required)
DEFAULT_REASONS: list[tuple[str, str | None, str, str, bool]] = [
    ("size", None, "Size or fit", "Taille ou ajustement", False),
    ("too_small", "size", "Too small", "Trop petit", False),
    ("too_large", "size", "Too large", "Trop grand", False),
    ("not_as_described", None, "Not as described", "Non conforme à la description", False),
    (
        "colour_different",
        "not_as_described",
        "Colour differs from the photos",
        "Couleur différente des photos",
        False,
    ),
    ("quality", None, "Quality", "Qualité", False),
    ("damaged", "quality", "Arrived damaged", "Arrivé endommagé", True),
    ("defective", "quality", "Defective", "Défectueux", True),
    ("wrong_item", None, "Wrong item sent", "Mauvais article reçu", True),
    ("changed_mind", None, "Changed my mind", "J'ai changé d'avis", False),
    ("arrived_late", None, "Arrived too late", "Arrivé trop tard", False),
    ("better_price", None, "Found a better price", "Trouvé moins cher ailleurs", False),
    ("other", None, "Other", "Autre", False),
]
