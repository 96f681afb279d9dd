"""The EasyPost adapter against recorded EasyPost answers: what it sends (in inches and ounces),
what it makes of the answers, how failures land in the carrier exception tree, and the webhook
signature exactly as EasyPost's own clients check it. No network."""

from __future__ import annotations

import base64
import hashlib
import hmac
import unicodedata
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest

from retour.integrations.easypost import EasyPostCarrier, error_text, shipment_reference
from retour.integrations.http import Parcel
from retour.shipment.carriers import (
    CarrierAdapter,
    CarrierFinalError,
    CarrierRetryableError,
    LabelPurchased,
    LabelPurchaseUnknown,
    LabelRequest,
    LabelResult,
    Rate,
    TrackingEvent,
    WebhookRejected,
)
from retour.shipment.rules import Address
from tests.integrations.recorded import PDF, Answer, FakeApi, answer, in_turn, pdf_file, recorded_bytes, recording

API = "https://api.easypost.com/v2"
SHIPMENTS = f"{API}/shipments"
BUY = f"{API}/shipments/shp_9af92e0bdd6a428f8aba267686ab9cae/buy"
TRACKERS = f"{API}/trackers"
LABEL = "https://easypost-files.s3.us-west-2.amazonaws.com/files/postage_label/20300107/e8e1f2a9ba7b4d5b8b1c0a6f2f3d7c91.pdf"
SHIPMENT_ID = "shp_9af92e0bdd6a428f8aba267686ab9cae"
SHIPMENT = f"{SHIPMENTS}/{SHIPMENT_ID}"
# The parcel's shipment, asked for by its reference: the parcel's and a digest of its addresses and parcel.
PARCEL_REFERENCE = "R-000042/1:a16296cf3b34"
PARCEL_SHIPMENT = f"{SHIPMENTS}/R-000042%2F1%3Aa16296cf3b34"
KEY = "EZTK4b1d0c9e8f7a6b5c4d3e2f1a0b9c8d"
SECRET = "A1B2C3-retour"

SHOP = {
    "name": "Maison Test",
    "street1": "388 Townsend St",
    "street2": "Apt 20",
    "city": "San Francisco",
    "zip": "94107",
    "country": "US",
}
CUSTOMER = {
    "name": "Elizabeth Swan",
    "street1": "179 N Harbor Dr",
    "street2": "",
    "city": "Redondo Beach",
    "zip": "90277",
    "country": "US",
}


def label_request(weight_grams: int = 850) -> LabelRequest:
    return LabelRequest(
        merchant_id=7,
        rma_number="R-000042",
        parcel=1,
        method="prepaid_label",
        shop_name="Maison Test",
        sender=Address("Elizabeth Swan", ("179 N Harbor Dr",), "90277", "Redondo Beach", "US"),
        recipient=Address("Maison Test", ("388 Townsend St", "Apt 20"), "94107", "San Francisco", "US"),
        today=date(2030, 1, 7),
        currency="USD",
        weight_grams=weight_grams,
        reference="R-000042/1",
    )


def purchase_api(bought: httpx.Response | None = None, label: Answer | None = None) -> FakeApi:
    return FakeApi(
        {
            # No shipment of this parcel yet.
            ("GET", PARCEL_SHIPMENT): answer("easypost", "error_404_not_found", 404),
            ("POST", SHIPMENTS): answer("easypost", "shipment_created", 201),
            ("POST", BUY): bought or answer("easypost", "shipment_bought"),
            ("GET", LABEL): pdf_file() if label is None else label,
        }
    )


def easypost(api: FakeApi, **options: Any) -> EasyPostCarrier:
    # No pause between the download attempts of a bought label: the tests stay fast.
    return EasyPostCarrier(KEY, client=api.client, **{"download_pause": 0.0, **options})


# Rates and labels


def test_it_is_a_carrier_adapter() -> None:
    adapter: CarrierAdapter = EasyPostCarrier(KEY, client=FakeApi({}).client)
    assert adapter.name == "easypost"


def test_rates_are_quoted_in_minor_units_cheapest_first() -> None:
    api = FakeApi({("POST", SHIPMENTS): answer("easypost", "shipment_created", 201)})
    assert easypost(api).rates(label_request()) == [
        # Equal prices in a repeatable order (service name).
        Rate("rate_b936eae682e543b1a6550ea120e81a3e", "USPS", "GroundAdvantage", 593, "USD", 3),
        Rate("rate_3d1f945a2d4043f1bcbc28b029dd7140", "USPS", "ParcelSelect", 593, "USD", 5),
        Rate("rate_7eb8606e070a4df19b70de813f9bea9d", "USPS", "Priority", 695, "USD", 2),
        Rate("rate_05676ca6d03141dd94a067b45335a41d", "USPS", "Express", 3125, "USD", None),
    ]


def test_a_return_shipment_is_sent_in_inches_and_ounces_with_the_outbound_addresses() -> None:
    api = FakeApi({("POST", SHIPMENTS): answer("easypost", "shipment_created", 201)})
    easypost(api).rates(label_request())
    assert api.sent("POST", SHIPMENTS) == {
        "shipment": {
            "from_address": SHOP,
            "to_address": CUSTOMER,
            # 30 x 20 x 10 cm = 11.81 x 7.87 x 3.94 in; 850 g = 29.98 oz: each rounded up to the tenth.
            "parcel": {"length": "11.9", "width": "7.9", "height": "4.0", "weight": "30.0"},
            "is_return": True,
            "options": {"label_format": "PDF"},
        }
    }
    expected = "Basic " + base64.b64encode(f"{KEY}:".encode()).decode()
    assert api.requests[0].headers["Authorization"] == expected


def test_an_ordinary_label_goes_from_the_customer_to_the_shop_with_the_default_parcel() -> None:
    api = FakeApi({("POST", SHIPMENTS): answer("easypost", "shipment_created", 201)})
    easypost(api, is_return=False, parcel=Parcel(25, 25, 25, 1000)).rates(label_request(weight_grams=0))
    shipment = api.sent("POST", SHIPMENTS)["shipment"]
    assert (shipment["from_address"], shipment["to_address"], shipment["is_return"]) == (CUSTOMER, SHOP, False)
    # 25 cm = 9.84 in; 1000 g = 35.27 oz.
    assert shipment["parcel"] == {"length": "9.9", "width": "9.9", "height": "9.9", "weight": "35.3"}


def test_a_label_is_bought_at_the_cheapest_rate_and_its_pdf_downloaded() -> None:
    api = purchase_api()
    label = easypost(api).create_label(label_request())
    assert label == LabelResult(
        tracking_number="9400100105442285876350",
        qr_payload="RETOUR;RMA=R-000042;TRK=9400100105442285876350",
        pdf=PDF,
        expires_on=date(2030, 2, 6),
        carrier_reference=SHIPMENT_ID,
        label_url=LABEL,
        tracking_carrier="USPS",
    )
    assert api.sent("POST", BUY) == {"rate": {"id": "rate_b936eae682e543b1a6550ea120e81a3e"}}
    assert api.calls() == [("GET", PARCEL_SHIPMENT), ("POST", SHIPMENTS), ("POST", BUY), ("GET", LABEL)]
    # A signed storage link: the API key must not travel to it.
    assert "Authorization" not in api.requests[-1].headers


def test_the_preferred_service_is_bought_even_when_dearer() -> None:
    api = purchase_api()
    easypost(api, preferred_service="priority").create_label(label_request())
    assert api.sent("POST", BUY) == {"rate": {"id": "rate_7eb8606e070a4df19b70de813f9bea9d"}}


def test_a_refused_purchase_is_final_with_easyposts_message() -> None:
    api = purchase_api(bought=answer("easypost", "buy_error_422", 422))
    # Read again in case an earlier attempt bought it: not bought.
    api.routes[("GET", SHIPMENT)] = answer("easypost", "shipment_created")
    with pytest.raises(CarrierFinalError) as refused:
        easypost(api).create_label(label_request())
    assert str(refused.value) == (
        "easypost: HTTP 422 on POST /v2/shipments/shp_9af92e0bdd6a428f8aba267686ab9cae/buy: "
        "SHIPMENT.POSTAGE.FAILURE: USPS: Address Not Found."
    )
    assert not isinstance(refused.value, LabelPurchaseUnknown)
    assert api.calls() == [("GET", PARCEL_SHIPMENT), ("POST", SHIPMENTS), ("POST", BUY), ("GET", SHIPMENT)]


def test_no_rate_is_final_and_says_why() -> None:
    api = FakeApi({("POST", SHIPMENTS): answer("easypost", "shipment_without_rates", 201)})
    with pytest.raises(CarrierFinalError) as refused:
        easypost(api).create_label(label_request())
    assert str(refused.value) == (
        "easypost: no rate for this parcel: USPS: Unable to retrieve USPS rates for this shipment: "
        "the destination ZIP code is invalid"
    )


# A label bought is paid for: once /buy answered, nothing may have it bought again.


def purchased(api: FakeApi) -> LabelPurchased:
    with pytest.raises(LabelPurchased) as bought:
        easypost(api).create_label(label_request())
    # Neither retryable nor final: either would have the caller buy the label again.
    assert not isinstance(bought.value, CarrierRetryableError | CarrierFinalError)
    assert api.count("POST", BUY) == 1
    return bought.value


def test_a_label_bought_without_a_pdf_is_recorded_not_bought_again() -> None:
    bought = recording("easypost", "shipment_bought")
    bought["postage_label"]["label_pdf_url"] = None
    api = purchase_api(bought=httpx.Response(200, json=bought))
    label = purchased(api)
    assert (label.tracking_number, label.carrier_reference, label.label_url, label.tracking_carrier) == (
        "9400100105442285876350",
        SHIPMENT_ID,
        None,
        "USPS",
    )
    assert str(label) == f"easypost: label {SHIPMENT_ID} was bought, but the carrier gave no PDF file for it"
    assert api.calls() == [("GET", PARCEL_SHIPMENT), ("POST", SHIPMENTS), ("POST", BUY)]


def test_a_label_whose_file_fails_three_times_is_bought_not_bought_again() -> None:
    api = purchase_api(
        label=in_turn(httpx.ReadTimeout("timed out"), httpx.Response(500), httpx.ConnectError("connection reset"))
    )
    label = purchased(api)
    assert (label.tracking_number, label.carrier_reference, label.label_url, label.tracking_carrier) == (
        "9400100105442285876350",
        SHIPMENT_ID,
        LABEL,
        "USPS",
    )
    assert str(label) == (
        f"easypost: label {SHIPMENT_ID} was bought, but its file could not be had in 3 attempts "
        "(last: easypost: the label file did not download (ConnectError))"
    )
    assert api.calls() == [
        ("GET", PARCEL_SHIPMENT),
        ("POST", SHIPMENTS),
        ("POST", BUY),
        ("GET", LABEL),
        ("GET", LABEL),
        ("GET", LABEL),
    ]
    assert all("Authorization" not in request.headers for request in api.requests[3:])


@pytest.mark.parametrize(
    ("label", "last"),
    [
        (httpx.Response(404, text="NoSuchKey"), "easypost: the label file did not download (HTTP 404)"),
        (httpx.Response(200, content=b"\x89PNG\r\n"), "easypost: the label file is not a PDF"),
        (httpx.DecodingError("incorrect header check"), "easypost: the label file did not download (DecodingError)"),
    ],
)
def test_a_label_whose_file_is_refused_or_is_not_a_pdf_is_bought_too(
    label: httpx.Response | Exception, last: str
) -> None:
    api = purchase_api(label=label)
    bought = purchased(api)
    assert (bought.tracking_number, bought.label_url) == ("9400100105442285876350", LABEL)
    assert str(bought).endswith(f"could not be had in 3 attempts (last: {last})")
    assert api.count("GET", LABEL) == 3


def test_a_label_whose_file_fails_once_is_fetched_again() -> None:
    api = purchase_api(label=in_turn(httpx.Response(503, text="Slow Down"), pdf_file()))
    label = easypost(api).create_label(label_request())
    assert (label.pdf, label.tracking_number, label.label_url, label.tracking_carrier) == (
        PDF,
        "9400100105442285876350",
        LABEL,
        "USPS",
    )
    assert api.calls() == [("GET", PARCEL_SHIPMENT), ("POST", SHIPMENTS), ("POST", BUY), ("GET", LABEL), ("GET", LABEL)]


def test_the_tracking_carrier_is_the_rate_bought_when_the_answer_names_none() -> None:
    bought = recording("easypost", "shipment_bought")
    del bought["selected_rate"]
    label = easypost(purchase_api(bought=httpx.Response(200, json=bought))).create_label(label_request())
    assert label.tracking_carrier == "USPS"


# Never bought twice: the parcel's shipment is found by its reference before one is made, and a
# /buy without a clear answer reads the shipment again rather than buying another.


def test_the_parcels_shipment_carries_its_reference_with_a_digest_of_what_it_says() -> None:
    api = purchase_api()
    easypost(api).create_label(label_request())
    assert api.sent("POST", SHIPMENTS)["shipment"]["reference"] == PARCEL_REFERENCE
    # An order whose address was corrected gets a shipment of its own, not the old one.
    moved = EasyPostCarrier(KEY, client=api.client)._shipment(
        replace(label_request(), sender=Address("Elizabeth Swan", ("180 N Harbor Dr",), "90277", "Redondo Beach", "US"))
    )
    assert shipment_reference("R-000042/1", moved) != PARCEL_REFERENCE


def test_a_buy_that_timed_out_reads_the_shipment_and_uses_the_label_bought() -> None:
    api = purchase_api(bought=None)
    api.routes[("POST", BUY)] = httpx.ReadTimeout("timed out")
    api.routes[("GET", SHIPMENT)] = answer("easypost", "shipment_bought")
    label = easypost(api).create_label(label_request())
    assert (label.tracking_number, label.carrier_reference, label.label_url, label.pdf) == (
        "9400100105442285876350",
        SHIPMENT_ID,
        LABEL,
        PDF,
    )
    assert api.calls() == [
        ("GET", PARCEL_SHIPMENT),
        ("POST", SHIPMENTS),
        ("POST", BUY),
        ("GET", SHIPMENT),
        ("GET", LABEL),
    ]


def test_a_buy_without_an_answer_is_retried_on_the_same_shipment_which_is_found_bought() -> None:
    api = purchase_api(bought=None)
    api.routes[("POST", BUY)] = httpx.Response(502, text="")
    # EasyPost had not finished when asked at once; the retry finds it bought.
    api.routes[("GET", SHIPMENT)] = answer("easypost", "shipment_created")
    with pytest.raises(CarrierRetryableError) as failed:
        easypost(api).create_label(label_request())
    assert str(failed.value) == (
        f"easypost: shipment {SHIPMENT_ID} is not bought (easypost: HTTP 502 on POST /v2/shipments/{SHIPMENT_ID}/buy:"
        " Bad Gateway); the next attempt buys it"
    )
    api.routes[("GET", PARCEL_SHIPMENT)] = answer("easypost", "shipment_bought")
    label = easypost(api).create_label(label_request())
    assert (label.tracking_number, label.carrier_reference) == ("9400100105442285876350", SHIPMENT_ID)
    # One shipment, one purchase request over both attempts.
    assert api.calls() == [
        ("GET", PARCEL_SHIPMENT),
        ("POST", SHIPMENTS),
        ("POST", BUY),
        ("GET", SHIPMENT),
        ("GET", PARCEL_SHIPMENT),
        ("GET", LABEL),
    ]


def test_a_retried_attempt_buys_the_parcels_earlier_shipment_not_a_new_one() -> None:
    api = purchase_api()
    api.routes[("GET", PARCEL_SHIPMENT)] = answer("easypost", "shipment_created")
    label = easypost(api).create_label(label_request())
    assert label.carrier_reference == SHIPMENT_ID
    assert api.calls() == [("GET", PARCEL_SHIPMENT), ("POST", BUY), ("GET", LABEL)]


def test_a_buy_refused_because_an_earlier_attempt_bought_it_uses_that_label() -> None:
    api = purchase_api(bought=answer("easypost", "buy_error_postage_exists", 422))
    api.routes[("GET", SHIPMENT)] = answer("easypost", "shipment_bought")
    label = easypost(api).create_label(label_request())
    assert (label.tracking_number, label.pdf) == ("9400100105442285876350", PDF)
    assert api.count("POST", BUY) == 1


def test_a_buy_without_an_answer_whose_shipment_cannot_be_read_stops_for_a_person() -> None:
    api = purchase_api(bought=None)
    api.routes[("POST", BUY)] = httpx.RemoteProtocolError("peer closed connection")
    api.routes[("GET", SHIPMENT)] = httpx.ReadTimeout("timed out")
    with pytest.raises(LabelPurchaseUnknown) as unknown:
        easypost(api).create_label(label_request())
    assert isinstance(unknown.value, CarrierFinalError)
    assert str(unknown.value) == (
        f"easypost: purchase outcome unknown (easypost: could not reach the API for POST /v2/shipments/{SHIPMENT_ID}"
        "/buy (RemoteProtocolError); reading the shipment failed: easypost: no answer within 10 s to GET "
        f"/v2/shipments/{SHIPMENT_ID}): check shipment {SHIPMENT_ID} in the EasyPost account before buying again"
    )
    assert unknown.value.carrier_reference == SHIPMENT_ID
    assert api.calls() == [("GET", PARCEL_SHIPMENT), ("POST", SHIPMENTS), ("POST", BUY), ("GET", SHIPMENT)]


def test_a_buy_that_never_reached_easypost_is_retryable() -> None:
    api = purchase_api(bought=None)
    api.routes[("POST", BUY)] = httpx.ConnectError("connection refused")
    with pytest.raises(CarrierRetryableError) as failed:
        easypost(api).create_label(label_request())
    assert (
        str(failed.value)
        == f"easypost: could not reach the API for POST /v2/shipments/{SHIPMENT_ID}/buy (ConnectError)"
    )
    assert api.calls() == [("GET", PARCEL_SHIPMENT), ("POST", SHIPMENTS), ("POST", BUY)]


def test_an_unreadable_parcel_shipment_is_retryable_and_buys_nothing() -> None:
    api = purchase_api()
    api.routes[("GET", PARCEL_SHIPMENT)] = httpx.Response(503, text="")
    with pytest.raises(CarrierRetryableError):
        easypost(api).create_label(label_request())
    assert api.calls() == [("GET", PARCEL_SHIPMENT)]


# A label's file fetched again


def test_a_label_file_is_downloaded_again_without_the_api_key() -> None:
    api = FakeApi({("GET", LABEL): pdf_file()})
    assert easypost(api).download_label(LABEL) == PDF
    (request,) = api.requests
    assert "Authorization" not in request.headers
    assert request.extensions["timeout"] == {"connect": 10, "read": 10, "write": 10, "pool": 10}


@pytest.mark.parametrize(
    ("result", "error", "message"),
    [
        (httpx.Response(404), CarrierFinalError, "easypost: the label file did not download (HTTP 404)"),
        (httpx.Response(410), CarrierFinalError, "easypost: the label file did not download (HTTP 410)"),
        (httpx.Response(200, text="<html></html>"), CarrierFinalError, "easypost: the label file is not a PDF"),
        (httpx.Response(500), CarrierRetryableError, "easypost: the label file did not download (HTTP 500)"),
        (httpx.Response(408), CarrierRetryableError, "easypost: the label file did not download (HTTP 408)"),
        (
            httpx.ConnectError("connection refused"),
            CarrierRetryableError,
            "easypost: the label file did not download (ConnectError)",
        ),
    ],
)
def test_a_label_file_that_cannot_be_downloaded_again_says_whether_to_retry(
    result: httpx.Response | Exception, error: type[Exception], message: str
) -> None:
    api = FakeApi({("GET", LABEL): result})
    with pytest.raises(error) as failed:
        easypost(api).download_label(LABEL)
    assert (type(failed.value), str(failed.value)) == (error, message)
    assert len(api.requests) == 1


# Failures of the API itself


def failing(result: httpx.Response | Exception) -> EasyPostCarrier:
    return easypost(FakeApi({("POST", SHIPMENTS): result}))


@pytest.mark.parametrize(
    ("name", "status", "message"),
    [
        (
            "error_401",
            401,
            "easypost: HTTP 401 on POST /v2/shipments: APIKEY.INACTIVE: This api key is no longer active. "
            "Please use a different api key or reactivate this key.",
        ),
        (
            "error_422_invalid",
            422,
            "easypost: HTTP 422 on POST /v2/shipments: PARAMETER.REQUIRED: Missing required parameter. "
            "(shipment: cannot be blank)",
        ),
    ],
)
def test_a_bad_key_or_request_is_final(name: str, status: int, message: str) -> None:
    with pytest.raises(CarrierFinalError) as refused:
        failing(answer("easypost", name, status)).rates(label_request())
    assert str(refused.value) == message


@pytest.mark.parametrize(
    ("result", "message"),
    [
        (
            httpx.Response(
                500, json={"error": {"code": "INTERNAL_SERVER_ERROR", "message": "Something went wrong.", "errors": []}}
            ),
            "easypost: HTTP 500 on POST /v2/shipments: INTERNAL_SERVER_ERROR: Something went wrong.",
        ),
        (
            httpx.Response(
                429, json={"error": {"code": "RATE_LIMITED", "message": "Too many requests.", "errors": []}}
            ),
            "easypost: HTTP 429 on POST /v2/shipments: RATE_LIMITED: Too many requests.",
        ),
        (httpx.Response(201, text="{truncated"), "easypost: the answer to POST /v2/shipments is not JSON"),
        (httpx.ReadTimeout("timed out"), "easypost: no answer within 10 s to POST /v2/shipments"),
        (httpx.ConnectTimeout("timed out"), "easypost: no answer within 10 s to POST /v2/shipments"),
    ],
)
def test_server_errors_rate_limits_garbage_and_timeouts_are_retryable(
    result: httpx.Response | Exception, message: str
) -> None:
    with pytest.raises(CarrierRetryableError) as failed:
        failing(result).rates(label_request())
    assert str(failed.value) == message


def test_error_bodies_of_other_shapes_read_well() -> None:
    assert (
        error_text(
            {
                "error": {
                    "code": "NOT_FOUND",
                    "errors": ["No eligible insurance found with provided tracking code."],
                    "message": "The requested resource could not be found.",
                }
            }
        )
        == "NOT_FOUND: The requested resource could not be found. (No eligible insurance found with provided tracking code.)"
    )
    assert error_text({"message": "not an EasyPost error"}) == ""
    assert error_text(None) == ""


# Tracking


def test_tracking_maps_statuses_oldest_first_in_utc() -> None:
    api = FakeApi({("POST", TRACKERS): answer("easypost", "tracker")})
    events = easypost(api).track("EZ4000000004")
    assert api.sent("POST", TRACKERS) == {"tracker": {"tracking_code": "EZ4000000004"}}
    assert [(event.at, event.status, event.carrier_status, event.description, event.location) for event in events] == [
        (
            datetime(2030, 1, 7, 18, 38, 4, tzinfo=UTC),
            "pre_transit",
            "pre_transit",
            "Pre-Shipment information received",
            None,
        ),
        (
            datetime(2030, 1, 8, 17, 13, 4, tzinfo=UTC),
            "in_transit",
            "in_transit",
            "Arrived at USPS Origin Facility",
            "REDONDO BEACH, CA, 90277, US",
        ),
        (
            datetime(2030, 1, 10, 7, 45, 4, tzinfo=UTC),
            "in_transit",
            "out_for_delivery",
            "Out for Delivery",
            "SAN FRANCISCO, CA, 94107, US",
        ),
        (
            datetime(2030, 1, 10, 16, 21, 4, tzinfo=UTC),
            "delivered",
            "delivered",
            "Delivered",
            "SAN FRANCISCO, CA, 94107, US",
        ),
    ]
    assert {event.tracking_number for event in events} == {"EZ4000000004"}
    assert (
        events[0].external_id
        == hashlib.sha256(b"easypost\x1fEZ4000000004\x1fpre_transit\x1f2030-01-07T18:38:04Z").hexdigest()
    )
    assert events == easypost(api).track("EZ4000000004")  # same ids when polled again
    assert len({event.external_id for event in events}) == 4


def test_tracking_finds_the_tracker_by_its_code_whatever_the_labels_carrier() -> None:
    api = FakeApi({("POST", TRACKERS): answer("easypost", "tracker")})
    events = easypost(api).track("EZ4000000004", tracking_carrier="USPS")
    assert api.sent("POST", TRACKERS) == {"tracker": {"tracking_code": "EZ4000000004"}}
    assert events == easypost(api).track("EZ4000000004")
    assert len(events) == 4


# Webhooks

BODY = recorded_bytes("easypost", "webhook_tracker_updated")


def signature(body: bytes, secret: str = SECRET) -> dict[str, str]:
    key = unicodedata.normalize("NFKD", secret).encode()
    return {"X-Hmac-Signature": "hmac-sha256-hex=" + hmac.new(key, body, hashlib.sha256).hexdigest()}


@pytest.mark.parametrize(
    ("result", "error", "message"),
    [
        (
            answer("easypost", "tracker_not_found", 404),
            CarrierFinalError,
            "easypost: HTTP 404 on POST /v2/trackers: TRACKER.NOT_FOUND: The requested resource could not be found.",
        ),
        (
            httpx.Response(
                503, json={"error": {"code": "SERVICE_UNAVAILABLE", "message": "Try again later.", "errors": []}}
            ),
            CarrierRetryableError,
            "easypost: HTTP 503 on POST /v2/trackers: SERVICE_UNAVAILABLE: Try again later.",
        ),
        (
            httpx.Response(500, text=""),
            CarrierRetryableError,
            "easypost: HTTP 500 on POST /v2/trackers: Internal Server Error",
        ),
        (httpx.ReadTimeout("timed out"), CarrierRetryableError, "easypost: no answer within 3 s to POST /v2/trackers"),
    ],
)
def test_tracking_errors_say_whether_to_ask_again(
    result: httpx.Response | Exception, error: type[Exception], message: str
) -> None:
    # An unknown tracker will stay unknown; an outage or a timeout is asked again at the next poll.
    api = FakeApi({("POST", TRACKERS): result})
    with pytest.raises(error) as failed:
        easypost(api, timeout=3).track("EZ4000000004")
    assert (type(failed.value), str(failed.value)) == (error, message)
    assert api.calls() == [("POST", TRACKERS)]


def test_a_webhook_signed_with_the_secret_is_accepted() -> None:
    adapter = EasyPostCarrier(KEY)
    adapter.verify_webhook(signature(BODY), BODY, SECRET)
    adapter.verify_webhook({"x-hmac-signature": signature(BODY)["X-Hmac-Signature"]}, BODY, SECRET)


def test_the_secret_is_nfkd_normalised_like_easyposts_clients() -> None:
    composed = "sécret-ﬁle"  # é as one code point, and the "fi" ligature
    decomposed = unicodedata.normalize("NFKD", composed)
    assert composed != decomposed
    EasyPostCarrier(KEY).verify_webhook(signature(BODY, decomposed), BODY, composed)


@pytest.mark.parametrize(
    ("headers", "secret", "message"),
    [
        (signature(BODY, "another-secret"), SECRET, "easypost: the webhook signature does not match"),
        (
            signature(BODY.replace(b"return_to_sender", b"delivered")),
            SECRET,
            "easypost: the webhook signature does not match",
        ),
        (
            {"X-Hmac-Signature": signature(BODY)["X-Hmac-Signature"].removeprefix("hmac-sha256-hex=")},
            SECRET,
            "easypost: the webhook signature does not match",
        ),
        ({}, SECRET, "easypost: no X-Hmac-Signature header"),
        (signature(BODY, ""), "", "easypost: no webhook secret is configured"),
    ],
)
def test_a_webhook_with_a_wrong_or_missing_signature_is_rejected(
    headers: dict[str, str], secret: str, message: str
) -> None:
    with pytest.raises(WebhookRejected) as rejected:
        EasyPostCarrier(KEY).verify_webhook(headers, BODY, secret)
    assert str(rejected.value) == message


def test_the_webhook_id_is_the_event_id() -> None:
    adapter = EasyPostCarrier(KEY)
    assert adapter.webhook_id(BODY) == adapter.webhook_id(bytes(BODY)) == "evt_7f3e2c1a9b8d4e6f8a0b1c2d3e4f5a6b"
    assert (
        adapter.webhook_id(recorded_bytes("easypost", "webhook_batch_created"))
        == "evt_0b1c2d3e4f5a4b6c8d9e0f1a2b3c4d5e"
    )
    for body in (b"not json", b'{"object": "Event"}', b'{"id": "evt_1", "object": "Tracker"}'):
        with pytest.raises(WebhookRejected):
            adapter.webhook_id(body)


def test_a_tracker_update_webhook_carries_its_events() -> None:
    events = EasyPostCarrier(KEY).parse_webhook(BODY)
    assert [(event.at, event.status, event.carrier_status, event.location) for event in events] == [
        (datetime(2030, 1, 7, 22, 8, 53, tzinfo=UTC), "pre_transit", "pre_transit", None),
        (datetime(2030, 1, 8, 15, 12, tzinfo=UTC), "in_transit", "in_transit", "REDONDO BEACH, CA, 90277, US"),
        (datetime(2030, 1, 9, 19, 58, tzinfo=UTC), "exception", "return_to_sender", "LOS ANGELES, CA, 90052, US"),
    ]
    assert events[-1] == TrackingEvent(
        at=datetime(2030, 1, 9, 19, 58, tzinfo=UTC),
        status="exception",
        description="Return to Sender Processed",
        external_id=hashlib.sha256(
            b"easypost\x1f9400100105442285876350\x1freturn_to_sender\x1f2030-01-09T19:58:00Z"
        ).hexdigest(),
        location="LOS ANGELES, CA, 90052, US",
        tracking_number="9400100105442285876350",
        carrier_status="return_to_sender",
    )


def test_other_webhooks_carry_no_event_and_garbage_is_rejected() -> None:
    adapter = EasyPostCarrier(KEY)
    assert adapter.parse_webhook(recorded_bytes("easypost", "webhook_batch_created")) == []
    for body in (
        b"{",
        b'"evt"',
        b'{"id": "evt_1", "object": "Event", "description": "tracker.updated", "result": null}',
    ):
        with pytest.raises(WebhookRejected):
            adapter.parse_webhook(body)


def test_adapters_built_per_call_share_one_connection_pool() -> None:
    from retour.integrations.http import shared_client
    from retour.integrations.shippo import ShippoCarrier

    first, second = EasyPostCarrier(KEY), ShippoCarrier("shippo_test_x")
    assert first._client is second._client is shared_client()
