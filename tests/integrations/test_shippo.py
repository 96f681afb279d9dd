"""The Shippo adapter against recorded Shippo answers: what it sends, what it makes of the answers,
and how every failure lands in the carrier exception tree. No network."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest

from retour.integrations.http import Parcel
from retour.integrations.shippo import ShippoCarrier, carrier_token, error_text
from retour.kit import clock
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

API = "https://api.goshippo.com"
SHIPMENTS = f"{API}/shipments/"
TRANSACTIONS = f"{API}/transactions/"
LABEL = "https://shippo-delivery-east.s3.amazonaws.com/70ae8117ee1749e393f249d5b77c45e0.pdf"
# The signed link as Shippo gives it (``LABEL`` with its query).
LABEL_URL = f"{LABEL}?Signature=vDw1ltcyGveVR1OQoUDdzC43BY8%3D&Expires=1437093830&AWSAccessKeyId=AKIAJTHP3LLFMYAWALIA"
TRANSACTION_ID = "915d94940ea54c3a80cbfa328722f5a1"
KEY = "shippo_test_5f1c0d9e8b7a6"
SECRET = "whk-7Jd2-kq9"

SHOP = {
    "name": "Maison Test",
    "street1": "12 rue des Lilas",
    "street2": "",
    "city": "Lyon",
    "zip": "69002",
    "country": "FR",
}
CUSTOMER = {
    "name": "Camille Martin",
    "street1": "8 rue Oberkampf",
    "street2": "Bât. B",
    "city": "Paris",
    "zip": "75011",
    "country": "FR",
}


def label_request(weight_grams: int = 850) -> LabelRequest:
    return LabelRequest(
        merchant_id=7,
        rma_number="R-000042",
        parcel=1,
        method="prepaid_label",
        shop_name="Maison Test",
        sender=Address("Camille Martin", ("8 rue Oberkampf", "Bât. B"), "75011", "Paris", "FR"),
        recipient=Address("Maison Test", ("12 rue des Lilas",), "69002", "Lyon", "FR"),
        today=date(2030, 1, 7),
        weight_grams=weight_grams,
        reference="R-000042/1",
    )


def purchase_api(
    transaction: str = "transaction_success",
    label: Answer | None = None,
    *,
    bought: httpx.Response | None = None,
) -> FakeApi:
    return FakeApi(
        {
            # The parcel's earlier purchases among the account's latest labels: none.
            ("GET", TRANSACTIONS): answer("shippo", "transactions_none"),
            ("POST", SHIPMENTS): answer("shippo", "shipment_created", 201),
            ("POST", TRANSACTIONS): bought or answer("shippo", transaction, 201),
            ("GET", LABEL): pdf_file() if label is None else label,
        }
    )


def shippo(api: FakeApi, **options: Any) -> ShippoCarrier:
    # No pause between the download attempts of a bought label: the tests stay fast.
    return ShippoCarrier(KEY, client=api.client, **{"download_pause": 0.0, **options})


# Rates and labels


def test_it_is_a_carrier_adapter() -> None:
    adapter: CarrierAdapter = ShippoCarrier(KEY, client=FakeApi({}).client)
    assert adapter.name == "shippo"


def test_rates_are_quoted_in_minor_units_cheapest_first() -> None:
    api = FakeApi({("POST", SHIPMENTS): answer("shippo", "shipment_created", 201)})
    assert shippo(api).rates(label_request()) == [
        Rate("adcfdddf8ec64b84ad22772bce3ea37a", "Colissimo", "colissimo_home", 725, "EUR", 2),
        Rate("0d64fd488c1444cf9bc16f858703e28f", "UPS", "ups_standard", 940, "EUR", 3),
        Rate("b1a0a1bc45844159812e0224d53948ea", "Chronopost", "chronopost_chrono_13", 1690, "EUR", 1),
    ]


def test_a_return_shipment_gives_the_outbound_addresses_and_shippo_swaps_them() -> None:
    api = FakeApi({("POST", SHIPMENTS): answer("shippo", "shipment_created", 201)})
    shippo(api).rates(label_request())
    assert api.sent("POST", SHIPMENTS) == {
        "address_from": SHOP,
        "address_to": CUSTOMER,
        "parcels": [
            {"length": "30", "width": "20", "height": "10", "distance_unit": "cm", "weight": "850", "mass_unit": "g"}
        ],
        "async": False,
        "metadata": "R-000042/1",
        "extra": {"is_return": True},
    }
    sent = api.requests[0]
    assert sent.headers["Authorization"] == f"ShippoToken {KEY}"
    assert sent.headers["Shippo-API-Version"] == "2018-02-08"


def test_an_ordinary_label_goes_from_the_customer_to_the_shop_with_the_default_parcel() -> None:
    api = FakeApi({("POST", SHIPMENTS): answer("shippo", "shipment_created", 201)})
    shippo(api, is_return=False, parcel=Parcel(40, 30, 20, 2500)).rates(label_request(weight_grams=0))
    body = api.sent("POST", SHIPMENTS)
    assert (body["address_from"], body["address_to"], "extra" in body) == (CUSTOMER, SHOP, False)
    assert body["parcels"][0] == {
        "length": "40",
        "width": "30",
        "height": "20",
        "distance_unit": "cm",
        "weight": "2500",
        "mass_unit": "g",
    }


def test_a_label_is_bought_at_the_cheapest_rate_and_its_pdf_downloaded() -> None:
    api = purchase_api()
    label = shippo(api).create_label(label_request())
    assert label == LabelResult(
        tracking_number="6A12345678901",
        qr_payload="RETOUR;RMA=R-000042;TRK=6A12345678901",
        pdf=PDF,
        expires_on=date(2030, 2, 6),
        carrier_reference=TRANSACTION_ID,
        label_url=LABEL_URL,
        tracking_carrier="colissimo",
    )
    assert api.sent("POST", TRANSACTIONS) == {
        "rate": "adcfdddf8ec64b84ad22772bce3ea37a",
        "label_file_type": "PDF",
        "async": False,
        "metadata": "R-000042/1",
    }
    assert api.calls() == [("GET", TRANSACTIONS), ("POST", SHIPMENTS), ("POST", TRANSACTIONS), ("GET", LABEL)]
    download = api.requests[-1]
    # A signed storage link: the API token must not travel to it (and S3 would refuse it).
    assert "Authorization" not in download.headers
    assert download.url.params["Signature"] == "vDw1ltcyGveVR1OQoUDdzC43BY8="


def test_the_preferred_service_is_bought_even_when_dearer() -> None:
    api = purchase_api()
    label = shippo(api, preferred_service="UPS_STANDARD").create_label(label_request())
    assert api.sent("POST", TRANSACTIONS)["rate"] == "0d64fd488c1444cf9bc16f858703e28f"
    # The parcel travels with UPS, whatever carrier the adapter tracks by default.
    assert label.tracking_carrier == "ups"


@pytest.mark.parametrize(
    ("service", "tracking_carrier"),
    [("colissimo_home", "colissimo"), ("ups_standard", "ups"), ("chronopost_chrono_13", "chronopost")],
)
def test_the_label_names_the_carrier_of_the_rate_bought(service: str, tracking_carrier: str) -> None:
    api = purchase_api()
    label = shippo(api, preferred_service=service, tracking_carrier="dhl_express").create_label(label_request())
    assert label.tracking_carrier == tracking_carrier


@pytest.mark.parametrize(
    ("provider", "token"),
    [
        ("USPS", "usps"),
        ("UPS", "ups"),
        ("FedEx", "fedex"),
        ("Colissimo", "colissimo"),
        ("Chronopost", "chronopost"),
        ("DHL Express", "dhl_express"),
        ("DHL eCommerce", "dhl_ecommerce"),
        ("Canada Post", "canada_post"),
        ("La Poste", "la_poste"),
        ("Mondial Relay", "mondial_relay"),
        ("  Royal  Mail ", "royal_mail"),
        ("Evri UK", "hermes_uk"),
        ("NZ Post", "new_zealand_post"),
        ("Correos España", "correos_espana"),
        ("", None),
    ],
)
def test_a_providers_display_name_gives_its_shippo_token(provider: str, token: str | None) -> None:
    assert carrier_token(provider) == token


def test_a_preferred_service_not_offered_is_final_and_buys_nothing() -> None:
    api = purchase_api()
    with pytest.raises(CarrierFinalError) as refused:
        shippo(api, preferred_service="colissimo_express").create_label(label_request())
    assert str(refused.value) == (
        "shippo: service 'colissimo_express' is not offered for this parcel "
        "(offered: chronopost_chrono_13, colissimo_home, ups_standard)"
    )
    assert api.calls() == [("GET", TRANSACTIONS), ("POST", SHIPMENTS)]


def test_a_refused_purchase_is_final_with_shippos_message() -> None:
    api = purchase_api("transaction_error")
    with pytest.raises(CarrierFinalError) as refused:
        shippo(api).create_label(label_request())
    assert (
        str(refused.value) == "shippo: the label was refused: Colissimo: The recipient's address could not be validated"
    )
    assert ("GET", LABEL) not in api.calls()


def test_no_rate_is_final_and_says_why() -> None:
    api = purchase_api()
    api.routes[("POST", SHIPMENTS)] = answer("shippo", "shipment_without_rates", 201)
    with pytest.raises(CarrierFinalError) as refused:
        shippo(api).create_label(label_request())
    assert str(refused.value) == (
        "shippo: no rate for this parcel: Colissimo: The postal code 75011 does not match the city Lyon; "
        "Shippo: Carrier account shippo_chronopost_account doesn't support one or more shipment options"
    )


# A label bought is paid for: once the transaction succeeded, nothing may have it bought again.


def purchased(api: FakeApi, **options: Any) -> LabelPurchased:
    with pytest.raises(LabelPurchased) as bought:
        shippo(api, **options).create_label(label_request())
    # Neither retryable nor final: either would have the caller buy the label again.
    assert not isinstance(bought.value, CarrierRetryableError | CarrierFinalError)
    assert api.count("POST", TRANSACTIONS) == 1
    return bought.value


def test_a_label_whose_file_fails_three_times_is_bought_not_bought_again() -> None:
    api = purchase_api(
        label=in_turn(
            httpx.Response(500, text="Internal Error"),
            httpx.ReadTimeout("timed out"),
            httpx.Response(503, text="Slow Down"),
        )
    )
    bought = purchased(api, preferred_service="ups_standard")
    assert (bought.tracking_number, bought.carrier_reference, bought.label_url, bought.tracking_carrier) == (
        "6A12345678901",
        TRANSACTION_ID,
        LABEL_URL,
        "ups",
    )
    assert str(bought) == (
        f"shippo: label {TRANSACTION_ID} was bought, but its file could not be had in 3 attempts "
        "(last: shippo: the label file did not download (HTTP 503))"
    )
    assert isinstance(bought.__cause__, CarrierRetryableError)
    assert api.calls() == [
        ("GET", TRANSACTIONS),
        ("POST", SHIPMENTS),
        ("POST", TRANSACTIONS),
        ("GET", LABEL),
        ("GET", LABEL),
        ("GET", LABEL),
    ]
    assert all("Authorization" not in request.headers for request in api.requests[3:])


@pytest.mark.parametrize(
    ("label", "last"),
    [
        (
            httpx.Response(403, text="<Error><Code>AccessDenied</Code></Error>"),
            "shippo: the label file did not download (HTTP 403)",
        ),
        (
            httpx.Response(404, text="<Error><Code>NoSuchKey</Code></Error>"),
            "shippo: the label file did not download (HTTP 404)",
        ),
        (httpx.Response(200, text="<html>not a label</html>"), "shippo: the label file is not a PDF"),
        (httpx.ConnectError("connection refused"), "shippo: the label file did not download (ConnectError)"),
        (
            httpx.TooManyRedirects("Exceeded maximum allowed redirects."),
            "shippo: the label file did not download (TooManyRedirects)",
        ),
    ],
)
def test_a_label_whose_file_is_refused_or_is_not_a_pdf_is_bought_too(
    label: httpx.Response | Exception, last: str
) -> None:
    api = purchase_api(label=label)
    bought = purchased(api)
    assert (bought.tracking_number, bought.carrier_reference, bought.label_url, bought.tracking_carrier) == (
        "6A12345678901",
        TRANSACTION_ID,
        LABEL_URL,
        "colissimo",
    )
    assert str(bought).endswith(f"could not be had in 3 attempts (last: {last})")
    assert api.count("GET", LABEL) == 3


def test_a_successful_transaction_without_a_label_url_is_bought_without_a_file() -> None:
    transaction = recording("shippo", "transaction_success")
    transaction["label_url"] = ""
    api = purchase_api(bought=httpx.Response(201, json=transaction))
    bought = purchased(api)
    assert (bought.tracking_number, bought.carrier_reference, bought.label_url, bought.tracking_carrier) == (
        "6A12345678901",
        TRANSACTION_ID,
        None,
        "colissimo",
    )
    assert str(bought) == f"shippo: label {TRANSACTION_ID} was bought, but the carrier gave no PDF file for it"
    assert api.calls() == [("GET", TRANSACTIONS), ("POST", SHIPMENTS), ("POST", TRANSACTIONS)]


def test_a_label_whose_file_fails_once_is_fetched_again() -> None:
    api = purchase_api(label=in_turn(httpx.Response(502, text="Bad Gateway"), pdf_file()))
    label = shippo(api, preferred_service="chronopost_chrono_13").create_label(label_request())
    assert (label.pdf, label.tracking_number, label.label_url, label.tracking_carrier) == (
        PDF,
        "6A12345678901",
        LABEL_URL,
        "chronopost",
    )
    assert api.calls() == [
        ("GET", TRANSACTIONS),
        ("POST", SHIPMENTS),
        ("POST", TRANSACTIONS),
        ("GET", LABEL),
        ("GET", LABEL),
    ]


def test_the_download_attempts_pause_a_little_longer_each_time(monkeypatch: pytest.MonkeyPatch) -> None:
    pauses: list[float] = []
    monkeypatch.setattr("retour.integrations.http.time.sleep", pauses.append)
    purchased(purchase_api(label=httpx.Response(500)), download_pause=0.25)
    assert pauses == [0.25, 0.5]
    pauses.clear()
    shippo(purchase_api(), download_pause=0.25).create_label(label_request())
    assert pauses == []


# Never bought twice: a purchase whose answer was lost is looked up, a queued one polled, and one
# that stays unclear stops for a person (final), never a second purchase.


def transactions_by_query(*, earlier: str = "transactions_none", of_rate: Answer) -> Answer:
    """``GET /transactions/`` answers the parcel's earlier purchases (``?results=``) and the
    transaction of a rate (``?rate=``) apart."""
    lookups = of_rate if callable(of_rate) else (lambda request: of_rate)

    def handle(request: httpx.Request) -> httpx.Response:
        if "rate" in request.url.params:
            found = lookups(request)
            assert isinstance(found, httpx.Response)
            return found
        return answer("shippo", earlier)

    return handle


def queries(api: FakeApi) -> list[dict[str, str]]:
    return [
        dict(request.url.params)
        for request in api.requests
        if request.url.path == "/transactions/" and request.method == "GET"
    ]


def test_a_purchase_that_timed_out_is_looked_up_by_its_rate_and_the_label_bought_is_used() -> None:
    api = purchase_api(bought=None)
    api.routes[("POST", TRANSACTIONS)] = httpx.ReadTimeout("timed out")
    api.routes[("GET", TRANSACTIONS)] = transactions_by_query(of_rate=answer("shippo", "transactions_of_rate"))
    label = shippo(api).create_label(label_request())
    assert (label.tracking_number, label.carrier_reference, label.label_url, label.tracking_carrier, label.pdf) == (
        "6A12345678901",
        TRANSACTION_ID,
        LABEL_URL,
        "colissimo",
        PDF,
    )
    # One purchase request, never a second.
    assert api.calls() == [
        ("GET", TRANSACTIONS),
        ("POST", SHIPMENTS),
        ("POST", TRANSACTIONS),
        ("GET", TRANSACTIONS),
        ("GET", LABEL),
    ]
    assert queries(api) == [{"results": "100"}, {"rate": "adcfdddf8ec64b84ad22772bce3ea37a"}]


def test_a_retried_attempt_finds_the_parcels_earlier_purchase_and_buys_nothing() -> None:
    # The first attempt bought the UPS rate, and its answer was lost.
    api = purchase_api()
    api.routes[("GET", TRANSACTIONS)] = answer("shippo", "transactions_of_parcel")
    label = shippo(api).create_label(label_request())
    assert (label.tracking_number, label.carrier_reference, label.tracking_carrier, label.pdf) == (
        "6A12345678901",
        TRANSACTION_ID,
        "ups",
        PDF,
    )
    assert api.calls() == [("GET", TRANSACTIONS), ("GET", LABEL)]


def test_an_earlier_purchase_refused_or_refunded_or_another_parcels_is_no_reason_not_to_buy() -> None:
    page = recording("shippo", "transactions_of_parcel")
    other, mine, refunded = page["results"]
    page["results"] = [other, refunded, {**mine, "status": "ERROR"}]
    api = purchase_api()
    api.routes[("GET", TRANSACTIONS)] = httpx.Response(200, json=page)
    label = shippo(api).create_label(label_request())
    assert label.carrier_reference == TRANSACTION_ID
    assert api.calls() == [("GET", TRANSACTIONS), ("POST", SHIPMENTS), ("POST", TRANSACTIONS), ("GET", LABEL)]


def test_a_queued_purchase_is_polled_until_it_succeeds() -> None:
    api = purchase_api("transaction_queued")
    one = f"{TRANSACTIONS}{TRANSACTION_ID}"
    api.routes[("GET", one)] = in_turn(answer("shippo", "transaction_queued"), answer("shippo", "transaction_success"))
    label = shippo(api).create_label(label_request())
    assert (label.tracking_number, label.carrier_reference, label.label_url) == (
        "6A12345678901",
        TRANSACTION_ID,
        LABEL_URL,
    )
    assert api.calls() == [
        ("GET", TRANSACTIONS),
        ("POST", SHIPMENTS),
        ("POST", TRANSACTIONS),
        ("GET", one),
        ("GET", one),
        ("GET", LABEL),
    ]


def test_a_purchase_still_queued_stops_for_a_person_and_is_not_bought_again() -> None:
    api = purchase_api("transaction_queued")
    one = f"{TRANSACTIONS}{TRANSACTION_ID}"
    api.routes[("GET", one)] = in_turn(httpx.ReadTimeout("timed out"), answer("shippo", "transaction_queued"))
    with pytest.raises(LabelPurchaseUnknown) as unknown:
        shippo(api).create_label(label_request())
    # Final: the outbox parks it (or the parcel is label_failed) with what to look for.
    assert isinstance(unknown.value, CarrierFinalError)
    assert str(unknown.value) == (
        f"shippo: purchase outcome unknown: transaction {TRANSACTION_ID} is 'QUEUED', it may yet be bought: "
        "check it in the Shippo account before buying again"
    )
    assert unknown.value.carrier_reference == TRANSACTION_ID
    assert api.calls() == [("GET", TRANSACTIONS), ("POST", SHIPMENTS), ("POST", TRANSACTIONS)] + [("GET", one)] * 3


def test_a_purchase_without_an_answer_that_cannot_be_found_stops_for_a_person() -> None:
    api = purchase_api()
    api.routes[("POST", TRANSACTIONS)] = httpx.Response(502, text="")
    api.routes[("GET", TRANSACTIONS)] = transactions_by_query(
        of_rate=in_turn(httpx.Response(503, text=""), answer("shippo", "transactions_none"))
    )
    with pytest.raises(LabelPurchaseUnknown) as unknown:
        shippo(api).create_label(label_request())
    assert str(unknown.value) == (
        "shippo: purchase outcome unknown (shippo: HTTP 502 on POST /transactions/: Bad Gateway; no transaction of "
        "that rate is found): check the Shippo account for a label with metadata 'R-000042/1' "
        "(rate adcfdddf8ec64b84ad22772bce3ea37a) before buying again"
    )
    assert api.count("POST", TRANSACTIONS) == 1
    assert queries(api) == [{"results": "100"}] + [{"rate": "adcfdddf8ec64b84ad22772bce3ea37a"}] * 3
    assert ("GET", LABEL) not in api.calls()


def test_a_purchase_whose_lookup_fails_too_says_so() -> None:
    api = purchase_api()
    api.routes[("POST", TRANSACTIONS)] = httpx.RemoteProtocolError("peer closed connection")
    api.routes[("GET", TRANSACTIONS)] = transactions_by_query(of_rate=httpx.Response(500, text="oops"))
    with pytest.raises(LabelPurchaseUnknown) as unknown:
        shippo(api).create_label(label_request())
    assert str(unknown.value).startswith(
        "shippo: purchase outcome unknown (shippo: could not reach the API for POST /transactions/ "
        "(RemoteProtocolError); looking it up failed: shippo: HTTP 500 on GET /transactions/: oops)"
    )
    assert api.count("POST", TRANSACTIONS) == 1


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (
            httpx.ConnectError("connection refused"),
            "shippo: could not reach the API for POST /transactions/ (ConnectError)",
        ),
        (httpx.ConnectTimeout("timed out"), "shippo: no answer within 10 s to POST /transactions/"),
        (
            httpx.Response(429, json={"detail": "Request was throttled."}),
            "shippo: HTTP 429 on POST /transactions/: Request was throttled.",
        ),
    ],
)
def test_a_purchase_that_never_reached_shippo_is_retryable(error: httpx.Response | Exception, message: str) -> None:
    api = purchase_api(bought=error if isinstance(error, httpx.Response) else None)
    if isinstance(error, Exception):
        api.routes[("POST", TRANSACTIONS)] = error
    with pytest.raises(CarrierRetryableError) as failed:
        shippo(api).create_label(label_request())
    assert str(failed.value) == message
    assert api.calls() == [("GET", TRANSACTIONS), ("POST", SHIPMENTS), ("POST", TRANSACTIONS)]


def test_an_unreadable_list_of_earlier_purchases_is_retryable_and_buys_nothing() -> None:
    api = purchase_api()
    api.routes[("GET", TRANSACTIONS)] = httpx.ReadTimeout("timed out")
    with pytest.raises(CarrierRetryableError) as failed:
        shippo(api).create_label(label_request())
    assert str(failed.value) == "shippo: no answer within 10 s to GET /transactions/"
    assert api.calls() == [("GET", TRANSACTIONS)]


# A label's file fetched again


def test_a_label_file_is_downloaded_again_without_the_api_token() -> None:
    api = FakeApi({("GET", LABEL): pdf_file()})
    assert shippo(api, timeout=4).download_label(LABEL_URL) == PDF
    (request,) = api.requests
    assert str(request.url) == LABEL_URL
    assert "Authorization" not in request.headers
    assert request.extensions["timeout"] == {"connect": 4, "read": 4, "write": 4, "pool": 4}


@pytest.mark.parametrize(
    ("result", "error", "message"),
    [
        (
            httpx.Response(404, text="NoSuchKey"),
            CarrierFinalError,
            "shippo: the label file did not download (HTTP 404)",
        ),
        (
            httpx.Response(403, text="Request has expired"),
            CarrierFinalError,
            "shippo: the label file did not download (HTTP 403)",
        ),
        (httpx.Response(200, text="%PD"), CarrierFinalError, "shippo: the label file is not a PDF"),
        (
            httpx.Response(500, text="InternalError"),
            CarrierRetryableError,
            "shippo: the label file did not download (HTTP 500)",
        ),
        (
            httpx.Response(429, text="SlowDown"),
            CarrierRetryableError,
            "shippo: the label file did not download (HTTP 429)",
        ),
        (
            httpx.ReadTimeout("timed out"),
            CarrierRetryableError,
            "shippo: the label file did not download (ReadTimeout)",
        ),
    ],
)
def test_a_label_file_that_cannot_be_downloaded_again_says_whether_to_retry(
    result: httpx.Response | Exception, error: type[Exception], message: str
) -> None:
    api = FakeApi({("GET", LABEL): result})
    with pytest.raises(error) as failed:
        shippo(api).download_label(LABEL_URL)
    assert (type(failed.value), str(failed.value)) == (error, message)
    assert len(api.requests) == 1


def test_no_label_url_is_final() -> None:
    api = FakeApi({})
    with pytest.raises(CarrierFinalError) as failed:
        shippo(api).download_label("")
    assert str(failed.value) == "shippo: no label file to download"
    assert api.requests == []


# Failures of the API itself


def failing(result: httpx.Response | Exception) -> ShippoCarrier:
    return shippo(FakeApi({("POST", SHIPMENTS): result}))


def test_a_bad_key_is_final() -> None:
    with pytest.raises(CarrierFinalError) as refused:
        failing(answer("shippo", "error_401", 401)).rates(label_request())
    assert str(refused.value) == "shippo: HTTP 401 on POST /shipments/: Token does not exist"


def test_field_errors_are_spelled_out() -> None:
    with pytest.raises(CarrierFinalError) as refused:
        failing(answer("shippo", "error_400", 400)).rates(label_request())
    assert str(refused.value) == (
        'shippo: HTTP 400 on POST /shipments/: address_from.zip: This field is required.; address_from.country: "XX" '
        "is not a valid choice.; parcels: Parcel weight must be greater than 0."
    )


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (
            httpx.Response(500, text="<h1>Server Error (500)</h1>"),
            "shippo: HTTP 500 on POST /shipments/: <h1>Server Error (500)</h1>",
        ),
        (httpx.Response(502, text=""), "shippo: HTTP 502 on POST /shipments/: Bad Gateway"),
        (
            httpx.Response(429, json={"detail": "Request was throttled. Expected available in 2 seconds."}),
            "shippo: HTTP 429 on POST /shipments/: Request was throttled. Expected available in 2 seconds.",
        ),
        (httpx.Response(200, text="<html>maintenance</html>"), "shippo: the answer to POST /shipments/ is not JSON"),
    ],
)
def test_server_errors_rate_limits_and_garbage_are_retryable(response: httpx.Response, message: str) -> None:
    with pytest.raises(CarrierRetryableError) as failed:
        failing(response).rates(label_request())
    assert str(failed.value) == message


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (httpx.ReadTimeout("timed out"), "shippo: no answer within 10 s to POST /shipments/"),
        (httpx.ConnectTimeout("timed out"), "shippo: no answer within 10 s to POST /shipments/"),
        (
            httpx.ConnectError("connection refused"),
            "shippo: could not reach the API for POST /shipments/ (ConnectError)",
        ),
    ],
)
def test_timeouts_and_unreachable_api_are_retryable(error: Exception, message: str) -> None:
    with pytest.raises(CarrierRetryableError) as failed:
        failing(error).rates(label_request())
    assert str(failed.value) == message


def test_every_call_carries_the_explicit_timeout() -> None:
    api = purchase_api()
    shippo(api, timeout=2.5).create_label(label_request())
    assert [request.extensions["timeout"] for request in api.requests] == [
        {"connect": 2.5, "read": 2.5, "write": 2.5, "pool": 2.5}
    ] * 4


def test_error_bodies_of_other_shapes_read_well() -> None:
    assert error_text({"detail": "Authentication credentials were not provided."}) == (
        "Authentication credentials were not provided."
    )
    assert error_text({"__all__": ["Rate has expired."]}) == "Rate has expired."
    assert error_text(["Invalid rate.", {"rate": ["Not found."]}]) == "Invalid rate.; rate: Not found."
    assert error_text(None) == ""


# Tracking

TRACK = f"{API}/tracks/colissimo/6A12345678901"


def test_tracking_maps_statuses_oldest_first_in_utc() -> None:
    api = FakeApi({("GET", TRACK): answer("shippo", "track")})
    events = shippo(api).track("6A12345678901")
    unnamed = hashlib.sha256(b"shippo\x1f6A12345678901\x1fTRANSIT\x1f2030-01-09T06:15:00Z").hexdigest()
    assert events == [
        TrackingEvent(
            at=datetime(2030, 1, 7, 10, 2, 11, tzinfo=UTC),
            status="pre_transit",
            description="Votre colis est prêt à être expédié, il va être remis à La Poste.",
            external_id="8f6b2e1d0c9a4b3f8e7d6c5b4a392817",
            location=None,
            tracking_number="6A12345678901",
            carrier_status="PRE_TRANSIT",
        ),
        TrackingEvent(
            at=datetime(2030, 1, 8, 16, 20, tzinfo=UTC),
            status="in_transit",
            description="Votre colis est pris en charge par La Poste.",
            external_id="1e2d3c4b5a6f47e8d9c0b1a2f3e4d5c6",
            location="Paris, 75011, FR",
            tracking_number="6A12345678901",
            carrier_status="TRANSIT",
        ),
        TrackingEvent(
            at=datetime(2030, 1, 9, 6, 15, tzinfo=UTC),
            status="in_transit",
            description="Votre colis est en cours d'acheminement.",
            external_id=unnamed,
            location="Chilly-Mazarin, 91380, FR",
            tracking_number="6A12345678901",
            carrier_status="TRANSIT",
        ),
        TrackingEvent(
            at=datetime(2030, 1, 10, 9, 41, tzinfo=UTC),
            status="delivered",
            description="Votre colis a été livré.",
            external_id="c2b7a5e0d3f44f6e9d1a4b8c7e6f5a41",
            location="Lyon, 69002, FR",
            tracking_number="6A12345678901",
            carrier_status="DELIVERED",
        ),
    ]
    assert all(event.at.utcoffset() is not None for event in events)
    assert api.requests[0].headers["Authorization"] == f"ShippoToken {KEY}"


def test_tracking_names_the_carrier_or_uses_the_default_one() -> None:
    api = FakeApi(
        {
            ("GET", f"{API}/tracks/chronopost/XY123456789FR"): answer("shippo", "track"),
            ("GET", f"{API}/tracks/ups/1Z999AA10123456784"): answer("shippo", "track"),
            ("GET", TRACK): answer("shippo", "track"),
        }
    )
    shippo(api).track("chronopost:XY123456789FR")
    shippo(api, tracking_carrier="ups").track("1Z999AA10123456784")
    shippo(api, tracking_carrier=None).track("6A12345678901")
    assert api.calls() == [
        ("GET", f"{API}/tracks/chronopost/XY123456789FR"),
        ("GET", f"{API}/tracks/ups/1Z999AA10123456784"),
        ("GET", TRACK),
    ]


def test_tracking_uses_the_carrier_the_label_was_bought_from() -> None:
    api = purchase_api()
    api.routes[("GET", f"{API}/tracks/ups/6A12345678901")] = answer("shippo", "track")
    adapter = shippo(api, preferred_service="ups_standard")
    label = adapter.create_label(label_request())
    assert label.tracking_number is not None
    events = adapter.track(label.tracking_number, tracking_carrier=label.tracking_carrier)
    assert api.calls()[-1] == ("GET", f"{API}/tracks/ups/6A12345678901")
    assert [event.status for event in events] == ["pre_transit", "in_transit", "in_transit", "delivered"]


def test_the_labels_tracking_carrier_wins_over_the_number_prefix_and_the_default() -> None:
    api = FakeApi(
        {
            ("GET", f"{API}/tracks/dhl_express/1234567890"): answer("shippo", "track"),
            ("GET", TRACK): answer("shippo", "track"),
        }
    )
    adapter = shippo(api, tracking_carrier="usps")
    adapter.track("1234567890", tracking_carrier="dhl_express")
    adapter.track("chronopost:1234567890", tracking_carrier="dhl_express")
    shippo(api).track("6A12345678901", tracking_carrier=None)
    shippo(api).track("6A12345678901", tracking_carrier="")
    assert api.calls() == [
        ("GET", f"{API}/tracks/dhl_express/1234567890"),
        ("GET", f"{API}/tracks/dhl_express/1234567890"),
        ("GET", TRACK),
        ("GET", TRACK),
    ]


def test_tracking_an_unknown_number_is_final() -> None:
    api = FakeApi({("GET", TRACK): httpx.Response(404, json={"detail": "Not found."})})
    with pytest.raises(CarrierFinalError) as refused:
        shippo(api).track("6A12345678901")
    assert str(refused.value) == "shippo: HTTP 404 on GET /tracks/colissimo/6A12345678901: Not found."


@pytest.mark.parametrize(
    ("result", "message"),
    [
        (httpx.ReadTimeout("timed out"), "shippo: no answer within 4 s to GET /tracks/colissimo/6A12345678901"),
        (
            httpx.Response(503, text="Service Unavailable"),
            "shippo: HTTP 503 on GET /tracks/colissimo/6A12345678901: Service Unavailable",
        ),
    ],
)
def test_tracking_without_an_answer_is_retryable(result: httpx.Response | Exception, message: str) -> None:
    # Asking where a parcel is buys nothing: the next poll simply asks again.
    api = FakeApi({("GET", TRACK): result})
    with pytest.raises(CarrierRetryableError) as failed:
        shippo(api, timeout=4).track("6A12345678901")
    assert (type(failed.value), str(failed.value)) == (CarrierRetryableError, message)
    assert api.calls() == [("GET", TRACK)]


# Webhooks

BODY = recorded_bytes("shippo", "webhook_track_updated")
NOW = datetime(2030, 1, 9, 12, 3, tzinfo=UTC)


def signed(body: bytes, secret: str = SECRET, at: datetime = NOW) -> dict[str, str]:
    timestamp = str(int(at.timestamp()))
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {"Shippo-Auth-Signature": f"t={timestamp},v1={digest}"}


def test_a_webhook_with_the_url_token_is_accepted() -> None:
    adapter = ShippoCarrier(KEY)
    adapter.verify_webhook({"x-retour-token": SECRET}, BODY, SECRET)
    adapter.verify_webhook({"X-Retour-Token": SECRET}, BODY, SECRET)


@pytest.mark.parametrize(
    ("headers", "secret", "message"),
    [
        ({"x-retour-token": "whk-guess"}, SECRET, "shippo: wrong webhook token"),
        ({}, SECRET, "shippo: neither Shippo-Auth-Signature nor a token"),
        ({"x-retour-token": ""}, "", "shippo: no webhook secret is configured"),
    ],
)
def test_a_webhook_without_the_right_token_is_rejected(headers: dict[str, str], secret: str, message: str) -> None:
    with pytest.raises(WebhookRejected) as rejected:
        ShippoCarrier(KEY).verify_webhook(headers, BODY, secret)
    assert str(rejected.value) == message


def test_a_webhook_signed_by_shippo_is_accepted() -> None:
    with clock.frozen(NOW):
        ShippoCarrier(KEY).verify_webhook(signed(BODY), BODY, SECRET)
        ShippoCarrier(KEY).verify_webhook(
            {"shippo-auth-signature": signed(BODY)["Shippo-Auth-Signature"]}, BODY, SECRET
        )


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        (signed(BODY, secret="another-secret"), "shippo: the webhook signature does not match"),
        (signed(BODY.replace(b"FAILURE", b"DELIVERED")), "shippo: the webhook signature does not match"),
        (
            signed(BODY, at=datetime(2030, 1, 9, 11, 57, 59, tzinfo=UTC)),
            "shippo: the webhook signature is too old (or from the future)",
        ),
        ({"Shippo-Auth-Signature": "v1=abc"}, "shippo: malformed Shippo-Auth-Signature"),
        # A valid URL token does not rescue a bad signature.
        (
            {**signed(BODY, secret="another-secret"), "X-Retour-Token": SECRET},
            "shippo: the webhook signature does not match",
        ),
    ],
)
def test_a_webhook_with_a_wrong_signature_is_rejected(headers: dict[str, str], message: str) -> None:
    with clock.frozen(NOW), pytest.raises(WebhookRejected) as rejected:
        ShippoCarrier(KEY).verify_webhook(headers, BODY, SECRET)
    assert str(rejected.value) == message


def test_the_webhook_id_is_the_hash_of_the_body_and_stable() -> None:
    adapter = ShippoCarrier(KEY)
    assert adapter.webhook_id(BODY) == adapter.webhook_id(bytes(BODY)) == hashlib.sha256(BODY).hexdigest()
    assert adapter.webhook_id(recorded_bytes("shippo", "webhook_transaction_created")) != adapter.webhook_id(BODY)
    with pytest.raises(WebhookRejected):
        adapter.webhook_id(b'{"data": {}}')


def test_a_track_update_webhook_carries_its_events() -> None:
    assert ShippoCarrier(KEY).parse_webhook(BODY) == [
        TrackingEvent(
            at=datetime(2030, 1, 8, 8, 10, tzinfo=UTC),
            status="in_transit",
            description="Votre colis est pris en charge par La Poste.",
            external_id="9a8b7c6d5e4f4a3b2c1d0e9f8a7b6c5d",
            location="Bordeaux, 33000, FR",
            tracking_number="6A98765432109",
            carrier_status="TRANSIT",
        ),
        TrackingEvent(
            at=datetime(2030, 1, 9, 11, 58, tzinfo=UTC),
            status="exception",
            description="Votre colis n'a pas pu être livré : adresse incomplète.",
            external_id="5f0a9c8b7d6e4f3a2b1c0d9e8f7a6b5c",
            location="Lyon, 69002, FR",
            tracking_number="6A98765432109",
            carrier_status="FAILURE",
        ),
    ]


def test_other_webhooks_carry_no_event_and_garbage_is_rejected() -> None:
    adapter = ShippoCarrier(KEY)
    assert adapter.parse_webhook(recorded_bytes("shippo", "webhook_transaction_created")) == []
    for body in (b"not json", b"[1, 2]", b'{"event": "track_updated", "data": "6A98765432109"}'):
        with pytest.raises(WebhookRejected):
            adapter.parse_webhook(body)
