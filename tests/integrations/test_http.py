"""What the carrier adapters share: every way an HTTP call or a label download can fail lands in the
carrier exception tree (nothing from httpx escapes), retryable unless asking again cannot help. No
network: the failures are raised by a mock transport or made by httpx itself from what it is
answered."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import httpx
import pytest

from retour.integrations.easypost import EasyPostCarrier
from retour.integrations.http import call_json, download_pdf
from retour.integrations.shippo import ShippoCarrier
from retour.shipment.carriers import (
    CarrierAdapter,
    CarrierError,
    CarrierFinalError,
    CarrierRetryableError,
    LabelRequest,
)
from retour.shipment.rules import Address
from tests.integrations.recorded import PDF

API = "https://api.example.test/v1/things"
FILE = "https://files.example.test/labels/1.pdf"


def client(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(handler))


def raising(error: Exception) -> httpx.Client:
    def handle(request: httpx.Request) -> httpx.Response:
        raise error

    return client(handle)


def call(http: httpx.Client, url: str = API) -> object:
    return call_json(http, "POST", url, carrier="acme", read_error=lambda payload: "", timeout=3, body={})


def gzip_garbage(request: httpx.Request) -> httpx.Response:
    """Says gzip, is not: httpx raises ``DecodingError`` while reading the body."""
    return httpx.Response(200, headers={"content-encoding": "gzip"}, stream=httpx.ByteStream(b"not gzip at all"))


def redirect_loop(request: httpx.Request) -> httpx.Response:
    return httpx.Response(302, headers={"location": str(request.url)})


TRANSPORT_ERRORS = [
    httpx.ConnectError("connection refused"),
    httpx.ReadError("connection reset by peer"),
    httpx.WriteError("broken pipe"),
    httpx.RemoteProtocolError("server disconnected without sending a response"),
    httpx.LocalProtocolError("illegal header"),
    httpx.ProxyError("proxy refused"),
    httpx.NetworkError("network unreachable"),
    httpx.DecodingError("incorrect header check"),
    httpx.TooManyRedirects("Exceeded maximum allowed redirects."),
    httpx.HTTPError("anything else httpx may raise"),
]
TIMEOUTS = [
    httpx.ConnectTimeout("timed out"),
    httpx.ReadTimeout("timed out"),
    httpx.WriteTimeout("timed out"),
    httpx.PoolTimeout("no connection free"),
]


# An API call


@pytest.mark.parametrize("error", TRANSPORT_ERRORS, ids=lambda error: type(error).__name__)
def test_a_call_that_fails_in_httpx_is_retryable(error: Exception) -> None:
    with pytest.raises(CarrierRetryableError) as failed:
        call(raising(error))
    assert str(failed.value) == f"acme: could not reach the API for POST /v1/things ({type(error).__name__})"
    assert failed.value.__cause__ is error


@pytest.mark.parametrize("error", TIMEOUTS, ids=lambda error: type(error).__name__)
def test_a_call_that_times_out_is_retryable(error: Exception) -> None:
    with pytest.raises(CarrierRetryableError) as failed:
        call(raising(error))
    assert str(failed.value) == "acme: no answer within 3 s to POST /v1/things"


def test_an_answer_that_does_not_decode_is_retryable() -> None:
    with pytest.raises(CarrierRetryableError) as failed:
        call(client(gzip_garbage))
    assert str(failed.value) == "acme: could not reach the API for POST /v1/things (DecodingError)"
    assert isinstance(failed.value.__cause__, httpx.DecodingError)


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("https://api.example.test/v1/\x00things", httpx.InvalidURL),  # httpx refuses it itself
        ("ftp://api.example.test/v1/things", httpx.UnsupportedProtocol),
    ],
)
def test_a_url_that_cannot_be_requested_is_final(url: str, error: type[Exception]) -> None:
    def unsupported(request: httpx.Request) -> httpx.Response:
        raise httpx.UnsupportedProtocol("Request URL has an unsupported protocol 'ftp://'.")

    with pytest.raises(CarrierFinalError) as failed:
        call(client(unsupported), url)
    assert str(failed.value).startswith("acme: cannot request POST /v1/")
    assert str(failed.value).endswith(f"({error.__name__})")
    assert isinstance(failed.value.__cause__, error)


# A label file


def download(http: httpx.Client, url: str = FILE) -> bytes:
    return download_pdf(http, url, carrier="acme", timeout=3)


@pytest.mark.parametrize("error", [*TRANSPORT_ERRORS, *TIMEOUTS], ids=lambda error: type(error).__name__)
def test_a_label_file_that_fails_in_httpx_is_retryable(error: Exception) -> None:
    with pytest.raises(CarrierRetryableError) as failed:
        download(raising(error))
    assert str(failed.value) == f"acme: the label file did not download ({type(error).__name__})"
    assert failed.value.__cause__ is error


@pytest.mark.parametrize(("handler", "name"), [(gzip_garbage, "DecodingError"), (redirect_loop, "TooManyRedirects")])
def test_a_label_file_that_httpx_cannot_read_is_retryable(
    handler: Callable[[httpx.Request], httpx.Response], name: str
) -> None:
    with pytest.raises(CarrierRetryableError) as failed:
        download(client(handler))
    assert str(failed.value) == f"acme: the label file did not download ({name})"


def test_a_label_file_behind_redirects_is_followed() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/labels/1.pdf":
            return httpx.Response(302, headers={"location": "https://cdn.example.test/1.pdf"})
        return httpx.Response(200, content=PDF)

    assert download(client(handle)) == PDF


@pytest.mark.parametrize(
    ("url", "name"),
    [("https://files.example.test/\x00.pdf", "InvalidURL"), ("ftp://files.example.test/1.pdf", "UnsupportedProtocol")],
)
def test_a_label_url_that_cannot_be_requested_is_final(url: str, name: str) -> None:
    def unsupported(request: httpx.Request) -> httpx.Response:
        raise httpx.UnsupportedProtocol("Request URL has an unsupported protocol 'ftp://'.")

    with pytest.raises(CarrierFinalError) as failed:
        download(client(unsupported), url)
    assert str(failed.value) == f"acme: the label file's URL cannot be requested ({name})"


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, CarrierFinalError),
        (401, CarrierFinalError),
        (403, CarrierFinalError),
        (404, CarrierFinalError),
        (408, CarrierRetryableError),
        (425, CarrierRetryableError),
        (429, CarrierRetryableError),
        (500, CarrierRetryableError),
        (503, CarrierRetryableError),
    ],
)
def test_a_label_file_refused_is_final_unless_the_answer_says_later(status: int, error: type[Exception]) -> None:
    with pytest.raises(error) as failed:
        download(client(lambda request: httpx.Response(status)))
    assert (type(failed.value), str(failed.value)) == (error, f"acme: the label file did not download (HTTP {status})")


# Through the adapters: nothing from httpx escapes any call

REQUEST = LabelRequest(
    merchant_id=7,
    rma_number="R-000042",
    parcel=1,
    method="prepaid_label",
    shop_name="Maison Test",
    sender=Address("Camille Martin", ("8 rue Oberkampf",), "75011", "Paris", "FR"),
    recipient=Address("Maison Test", ("12 rue des Lilas",), "69002", "Lyon", "FR"),
    today=date(2030, 1, 7),
)
ADAPTERS: list[Callable[[httpx.Client], CarrierAdapter]] = [
    lambda http: ShippoCarrier("shippo_test_x", client=http),
    lambda http: EasyPostCarrier("EZTKx", client=http),
]
CALLS: list[Callable[[CarrierAdapter], object]] = [
    lambda adapter: adapter.rates(REQUEST),
    lambda adapter: adapter.create_label(REQUEST),
    lambda adapter: adapter.track("6A12345678901", tracking_carrier="colissimo"),
    lambda adapter: adapter.download_label(FILE),
]


@pytest.mark.parametrize("make", ADAPTERS, ids=["shippo", "easypost"])
@pytest.mark.parametrize("use", CALLS, ids=["rates", "create_label", "track", "download_label"])
@pytest.mark.parametrize(
    "error",
    [*TRANSPORT_ERRORS, *TIMEOUTS, httpx.UnsupportedProtocol("no"), httpx.InvalidURL("no")],
    ids=lambda error: type(error).__name__,
)
def test_no_httpx_error_escapes_an_adapter(
    make: Callable[[httpx.Client], CarrierAdapter], use: Callable[[CarrierAdapter], object], error: Exception
) -> None:
    with pytest.raises(CarrierError) as failed:
        use(make(raising(error)))
    assert failed.value.__cause__ is error
