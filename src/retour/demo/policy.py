"""Maison Lune's return policy (published as version 2): one rule per feature of the engine."""

from __future__ import annotations

from typing import Any

HIGH_VALUE_AMOUNT = 50_000
"""Price paid per unit (cents) from which a return is reviewed by the team first."""
LABEL_VALIDITY_DAYS = 30
"""A label not used within this many days expires, and its return with it."""

DEMO_POLICY: dict[str, Any] = {
    "defaults": {
        "window_days": 30,
        "window_from": "delivery",
        "resolutions": ["refund", "store_credit", "exchange"],
        "methods": ["prepaid_label", "drop_off", "in_store"],
        "return_shipping_fee_amount": 490,
        "auto_approve": True,
        "label_validity_days": LABEL_VALIDITY_DAYS,
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
            "id": "holidays",
            "name": {"en": "Holiday gifts", "fr": "Cadeaux des fêtes"},
            "when": {"order_placed_between_month_days": ["11-15", "12-31"]},
            "then": {"return_until_month_day": "01-31"},
        },
        {
            "id": "vip",
            "name": {"en": "VIP customers", "fr": "Clientes VIP"},
            "when": {"customer_tags_any": ["vip"]},
            "then": {"window_days": 60, "return_shipping_fee_amount": 0},
        },
        {
            "id": "discounted",
            "name": {"en": "Discounted items", "fr": "Articles remisés"},
            "when": {"is_discounted": True},
            "then": {"resolutions": ["exchange", "store_credit"]},
        },
        {
            "id": "earrings-hygiene",
            "name": {"en": "Earrings (hygiene)", "fr": "Boucles d'oreilles (hygiène)"},
            "when": {"categories": ["earrings"]},
            "then": {"restocking_fee_percent": "15"},
        },
        {
            "id": "high-value",
            "name": {"en": "High-value pieces", "fr": "Pièces de valeur"},
            "when": {"unit_price_gte": HIGH_VALUE_AMOUNT},
            "then": {"manual_review": True, "methods": ["prepaid_label", "home_pickup", "in_store"]},
        },
        {
            "id": "store-credit-bonus",
            "name": {"en": "Store credit bonus", "fr": "Bonus sur l'avoir"},
            "then": {"bonus_credit_percent": "10"},
        },
        {
            "id": "our-mistake",
            "name": {"en": "Our mistake", "fr": "Notre erreur"},
            "when": {"reasons": ["damaged", "defective", "wrong_item"]},
            "then": {"waive_fees": True, "photos_required": True},
        },
    ],
}
