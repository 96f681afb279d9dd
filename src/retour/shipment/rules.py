"""Pure decisions about the parcel back: return addresses, stores, pickup slots, tracking numbers,
the QR payload and which shipment states can still be cancelled. No I/O, no ORM."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

PICKUP_SLOTS = ("09-12", "13-17")
PICKUP_WORKING_DAYS = 10
SUNDAY = 6
LABEL_VALIDITY_DAYS = 30
TRACKING_PREFIX = "RT"
QR_PREFIX = "RETOUR"

# Methods for which a carrier label (with a tracking number) is bought or made.
CARRIER_METHODS = ("prepaid_label", "drop_off", "home_pickup")
# A parcel in one of these states has not left yet: it can be cancelled with its return.
CANCELLABLE_STATUSES = ("label_pending", "label_failed", "label_created")
ACTIVE_STATUSES = ("label_pending", "label_created", "in_transit", "delivered", "received")
# Parcels whose carrier is still worth asking where they are.
TRACKED_STATUSES = ("label_created", "in_transit")
POLL_INTERVAL_HOURS = 4
# How far along the way each status is: tracking only ever moves a parcel forward.
_PROGRESS = {"label_created": 0, "in_transit": 1, "delivered": 2, "received": 3}
# Carrier-neutral scan statuses that move a parcel (``pre_transit``, ``exception`` and ``unknown``
# are recorded on its timeline but do not move it).
_EVENT_MOVES_TO = {"in_transit": "in_transit", "delivered": "delivered"}


@dataclass(frozen=True)
class Address:
    """A postal address as printed on a label. Only ``name`` is always known."""

    name: str
    lines: tuple[str, ...] = ()
    postal_code: str = ""
    city: str = ""
    country: str = ""

    def printable_lines(self) -> list[str]:
        """The address block, top to bottom, without empty lines."""
        city_line = " ".join(part for part in (self.postal_code, self.city) if part)
        return [line for line in (self.name, *self.lines, city_line, self.country) if line]


@dataclass(frozen=True)
class Store:
    """A shop's store where returns can be dropped: an active stock location of kind ``store``,
    or an entry of ``merchant.settings["stores"]`` for a shop without such locations."""

    code: str
    name: str
    address: str = ""
    city: str = ""
    country: str = ""
    hours: str = ""
    postal_code: str = ""

    def as_address(self) -> Address:
        return Address(
            name=self.name,
            lines=(self.address,) if self.address else (),
            postal_code=self.postal_code,
            city=self.city,
            country=self.country,
        )


@dataclass(frozen=True)
class Location:
    """An active stock location as the return address needs it (plain data, no ORM)."""

    code: str
    name: str
    kind: str
    address: Mapping[str, Any]
    countries_served: tuple[str, ...] = ()
    is_default: bool = False

    @property
    def has_street_address(self) -> bool:
        """A label needs at least a street or a city; a location created without is not used."""
        return bool(_address(self.address, self.name).lines or self.address.get("city"))


@dataclass(frozen=True)
class PickupSlot:
    date: date
    slot: str


@dataclass(frozen=True)
class Problem:
    """Why an input was refused: the field, a machine code and the message in both languages."""

    field: str
    code: str
    en: str
    fr: str


def return_location(locations: Sequence[Location], country: str) -> Location | None:
    """Where a parcel from ``country`` comes back: the location serving it (a warehouse before a
    store, then the default, then by code), else the shop's default location. Locations without a
    street address are skipped (the shop filled in its settings instead)."""
    usable = [location for location in locations if location.has_street_address]
    code = (country or "").strip().upper()
    serving = sorted(
        (location for location in usable if code and code in location.countries_served),
        key=lambda location: (location.kind != "warehouse", not location.is_default, location.code),
    )
    if serving:
        return serving[0]
    return next((location for location in usable if location.is_default), None)


def evaluate_return_address(
    locations: Sequence[Location], settings: Mapping[str, Any], country: str, *, shop_name: str
) -> Address:
    """The label's return address for a customer in ``country``: the shop's stock location that
    serves that country (see ``return_location``), else, for a shop without locations (or none
    with an address), ``settings["return_addresses"]``."""
    location = return_location(locations, country)
    if location is None:
        return return_address_from_settings(settings, country, shop_name=shop_name)
    located = _address(location.address, location.name)
    return Address(
        name=f"{shop_name} - {location.name}",
        lines=located.lines,
        postal_code=located.postal_code,
        city=located.city,
        country=located.country,
    )


def offered_stores(locations: Sequence[Location], settings: Mapping[str, Any]) -> list[Store]:
    """The stores a return can be dropped at: the shop's active locations of kind ``store``, in
    the order given (the default first, then by code), else ``settings["stores"]``. A location
    has no opening hours: those of the settings' store with the same code are kept."""
    configured = {store.code: store for store in stores_from_settings(settings)}
    stores = [
        _store_of(location, configured[location.code].hours if location.code in configured else "")
        for location in locations
        if location.kind == "store"
    ]
    return stores or list(configured.values())


def _store_of(location: Location, hours: str) -> Store:
    address = _address(location.address, location.name)
    return Store(
        code=location.code,
        name=location.name,
        address=", ".join(address.lines),
        postal_code=address.postal_code,
        city=address.city,
        country=address.country,
        hours=hours,
    )


def parcel_weight_grams(items: Iterable[tuple[int | None, int]]) -> int:
    """What the box weighs for the carrier, from ``(catalogue weight in milligrams, units)`` of
    each item: the sum, rounded up to the whole gram (a carrier bills by bracket; under-declaring
    costs a surcharge). 0, "unknown" (the carrier adapter then uses the shop's default parcel),
    when the box is empty or one item has no weight."""
    total = 0
    counted = False
    for milligrams, units in items:
        if units <= 0:
            continue
        if not milligrams:
            return 0
        total += milligrams * units
        counted = True
    return -(-total // 1000) if counted else 0


def return_address_from_settings(settings: Mapping[str, Any], country: str, *, shop_name: str) -> Address:
    """The shop's return address for the customer's country, else its ``default`` one, else only
    the shop's name (a label is still printed; the shop must complete its settings)."""
    addresses = settings.get("return_addresses") or {}
    if not isinstance(addresses, Mapping):
        return Address(name=shop_name)
    raw = addresses.get((country or "").upper()) or addresses.get("default")
    if not isinstance(raw, Mapping):
        return Address(name=shop_name)
    return _address(raw, shop_name)


def _address(raw: Mapping[str, Any], shop_name: str) -> Address:
    lines = raw.get("lines")
    if isinstance(lines, list | tuple):
        address_lines = tuple(str(line) for line in lines if line)
    else:
        address_lines = tuple(str(raw[key]) for key in ("line1", "line2", "street") if raw.get(key))
    return Address(
        name=str(raw.get("name") or shop_name),
        lines=address_lines,
        postal_code=str(raw.get("postal_code") or ""),
        city=str(raw.get("city") or ""),
        country=str(raw.get("country") or "").upper(),
    )


def stores_from_settings(settings: Mapping[str, Any]) -> list[Store]:
    """The stores that take returns; entries without a code or a name are skipped."""
    raw = settings.get("stores") or []
    stores = []
    for item in raw if isinstance(raw, list) else []:
        if isinstance(item, Mapping) and item.get("code") and item.get("name"):
            hours = item.get("hours") or ""
            stores.append(
                Store(
                    code=str(item["code"]),
                    name=str(item["name"]),
                    address=str(item.get("address") or ""),
                    city=str(item.get("city") or ""),
                    country=str(item.get("country") or "").upper(),
                    hours=hours if isinstance(hours, str) else "; ".join(f"{k} {v}" for k, v in dict(hours).items()),
                )
            )
    return stores


def pickup_days(today: date, count: int = PICKUP_WORKING_DAYS) -> list[date]:
    """The next ``count`` working days after today (Monday to Saturday; couriers do not come on
    Sundays)."""
    days: list[date] = []
    day = today
    while len(days) < count:
        day += timedelta(days=1)
        if day.weekday() != SUNDAY:
            days.append(day)
    return days


def pickup_slots(today: date) -> list[PickupSlot]:
    """Every slot offered for a home pickup: two per working day for the next ten working days."""
    return [PickupSlot(day, slot) for day in pickup_days(today) for slot in PICKUP_SLOTS]


def evaluate_pickup(pickup_date: date | None, pickup_slot: str | None, *, today: date) -> Problem | None:
    """A home pickup needs a working day among the offered ones (after today, not a Sunday) and
    one of the slots. Returns the first problem, or None when the choice is fine."""
    if pickup_date is None:
        return Problem(
            "pickup_date", "pickup_date_required", "choose a pickup date", "choisissez une date d'enlèvement"
        )
    if pickup_date <= today:
        return Problem(
            "pickup_date",
            "pickup_date_not_future",
            "the pickup date must be after today",
            "la date d'enlèvement doit être postérieure à aujourd'hui",
        )
    if pickup_date.weekday() == SUNDAY:
        return Problem(
            "pickup_date",
            "pickup_date_sunday",
            "there are no pickups on Sundays",
            "il n'y a pas d'enlèvement le dimanche",
        )
    if pickup_date > pickup_days(today)[-1]:
        return Problem(
            "pickup_date",
            "pickup_date_too_far",
            f"choose a date within the next {PICKUP_WORKING_DAYS} working days",
            f"choisissez une date dans les {PICKUP_WORKING_DAYS} prochains jours ouvrés",
        )
    if pickup_slot not in PICKUP_SLOTS:
        return Problem(
            "pickup_slot",
            "pickup_slot_invalid",
            f"choose a time slot: {' or '.join(PICKUP_SLOTS)}",
            f"choisissez un créneau : {' ou '.join(PICKUP_SLOTS)}",
        )
    return None


def luhn_check_digit(digits: str) -> int:
    """The Luhn (mod 10) check digit of a string of digits: catches every single-digit typo and
    most swaps of two neighbours when a number is typed by hand."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return (10 - total % 10) % 10


def tracking_number(merchant_id: int, rma_number: str, parcel: int = 1) -> str:
    """The built-in carrier's tracking number: ``RT`` + merchant (5 digits) + the RMA's sequence
    (7 digits) + the parcel (2 digits) + a Luhn check digit. The same return and parcel always get
    the same number (a retried call cannot issue a second one) and two parcels of one shop never
    share one. An RMA without digits falls back to a hash of it."""
    digits = re.sub(r"\D", "", rma_number)
    sequence = int(digits) if digits else int(hashlib.sha256(rma_number.encode()).hexdigest(), 16) % 10**7
    body = f"{merchant_id:05d}{sequence:07d}{parcel:02d}"
    return f"{TRACKING_PREFIX}{body}{luhn_check_digit(body)}"


def is_valid_tracking_number(value: str) -> bool:
    """Whether a scanned or typed value is a well-formed built-in tracking number."""
    match = re.fullmatch(rf"{TRACKING_PREFIX}(\d{{14,}})(\d)", value.strip().upper())
    return bool(match) and luhn_check_digit(match.group(1)) == int(match.group(2))  # type: ignore[union-attr]


def qr_payload(rma_number: str, tracking: str | None) -> str:
    """What the label's QR code (and the drop-off QR code) carries: ``RETOUR;RMA=<rma>;TRK=<tracking>``.
    A 2D scanner at the warehouse or the drop-off point types it; ``parse_qr_payload`` reads it."""
    parts = [QR_PREFIX, f"RMA={rma_number}"]
    if tracking:
        parts.append(f"TRK={tracking}")
    return ";".join(parts)


def parse_qr_payload(text: str) -> tuple[str, str | None] | None:
    """``(rma_number, tracking_number or None)`` from a scanned QR payload, or None if it is not ours."""
    parts = text.strip().split(";")
    if not parts or parts[0] != QR_PREFIX:
        return None
    fields = dict(part.split("=", 1) for part in parts[1:] if "=" in part)
    if not fields.get("RMA"):
        return None
    return fields["RMA"], fields.get("TRK")


def label_filename(rma_number: str, parcel: int) -> str:
    """``R-000123.pdf`` for the first parcel, ``R-000123-2.pdf`` for the next ones."""
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", rma_number)
    return f"{safe}.pdf" if parcel <= 1 else f"{safe}-{parcel}.pdf"


def status_after_scans(current: str, scan_statuses: Iterable[str]) -> str:
    """The parcel's status once these scans are known: the furthest one reached, never backwards
    (scans arrive out of order, and a ``delivered`` scan read after the warehouse received the
    parcel changes nothing). A parcel that is cancelled, expired, lost or not in the table stays
    as it is: a scan there is an anomaly for a person (``is_unexpected_scan``)."""
    if current not in _PROGRESS:
        return current
    target = current
    for status in scan_statuses:
        moved = _EVENT_MOVES_TO.get(status)
        if moved is not None and _PROGRESS[moved] > _PROGRESS[target]:
            target = moved
    return target


def is_unexpected_scan(current: str, scan_status: str) -> bool:
    """A carrier moving a parcel whose label was cancelled or expired: the customer sent it anyway."""
    return current in ("cancelled", "label_expired") and scan_status in _EVENT_MOVES_TO


def label_has_expired(status: str, expires_at: datetime | None, now: datetime) -> bool:
    """A label never scanned (still ``label_created``) past its expiry."""
    return status == "label_created" and expires_at is not None and expires_at <= now


def should_poll(
    status: str, carrier: str, tracking: str | None, last_polled_at: datetime | None, now: datetime
) -> bool:
    """A parcel of a real carrier, on its way or about to be, not asked about for a while."""
    if carrier == "builtin" or not tracking or status not in TRACKED_STATUSES:
        return False
    return last_polled_at is None or now - last_polled_at >= timedelta(hours=POLL_INTERVAL_HOURS)


def evaluate_reschedule(
    method: str, status: str, pickup_date: date | None, pickup_slot: str | None, *, today: date
) -> Problem | None:
    """A pickup can be moved while the courier has not collected the parcel, to any offered slot."""
    if method != "home_pickup":
        return Problem(
            "method", "not_a_pickup", "this parcel is not collected at home", "ce colis n'est pas enlevé à domicile"
        )
    if status != "label_created":
        return Problem(
            "status",
            "pickup_done",
            "the parcel has already been collected",
            "le colis a déjà été enlevé",
        )
    return evaluate_pickup(pickup_date, pickup_slot, today=today)
