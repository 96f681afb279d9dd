"""Photos uploaded from the portal. Every upload is checked from its bytes (JPEG, PNG or WebP;
at most 10 MB and 40 million pixels; decompression bombs refused), decoded, turned upright
(EXIF orientation), shrunk to at most 2048 px and re-encoded as a JPEG without any metadata
(no EXIF, no GPS position, no ICC profile), then stored as
``<storage>/<merchant_id>/photos/<sha256>.jpg``. A refused upload leaves nothing behind."""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps
from sqlalchemy import select
from sqlalchemy.orm import Session

from retour.kit.errors import InvalidInput, NotFound
from retour.models import ReturnPhoto
from retour.photo import rules
from retour.photo.rules import Refusal
from retour.return_request import service as return_service
from retour.settings import get_settings

FIELD = "photos"


@dataclass(frozen=True)
class CleanPhoto:
    data: bytes
    width: int
    height: int
    content_type: str  # what the upload really was


def refused(refusal: Refusal) -> InvalidInput:
    return InvalidInput(refusal.en, field=FIELD, code=refusal.code, extra={"message_fr": refusal.fr})


def clean(data: bytes) -> CleanPhoto:
    """The upload re-encoded for storage, or ``InvalidInput`` (field ``photos``)."""
    kind, refusal = rules.check_bytes(data)
    if refusal is not None or kind is None:
        raise refused(refusal or rules.NOT_AN_IMAGE)
    formats = [rules.PIL_FORMATS[kind]]
    with warnings.catch_warnings():
        # Pillow only warns between 89 and 179 Mpx: make it an error here, whatever the limit.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=formats) as probe:  # reads the header only
                refusal = rules.check_dimensions(*probe.size)
                if refusal is not None:
                    raise refused(refusal)
                probe.verify()
            with Image.open(io.BytesIO(data), formats=formats) as image:
                if kind == "jpeg":
                    image.draft("RGB", (rules.MAX_SIDE, rules.MAX_SIDE))  # decode big JPEGs at a lower scale
                image.load()
                upright = ImageOps.exif_transpose(image) or image
                rgb = _flatten(upright)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise refused(rules.TOO_MANY_PIXELS) from None
        except InvalidInput:
            raise
        except Exception:  # any decoder failure (OSError, SyntaxError, struct.error...): unreadable
            raise refused(rules.NOT_AN_IMAGE) from None
    size = rules.stored_size(*rgb.size)
    if size != rgb.size:
        rgb = rgb.resize(size, Image.Resampling.LANCZOS)
    # A brand-new image carries no metadata at all, whatever ``info`` the decoder filled in.
    bare = Image.frombytes("RGB", rgb.size, rgb.tobytes())
    buffer = io.BytesIO()
    bare.save(buffer, format="JPEG", quality=rules.JPEG_QUALITY, optimize=True)
    return CleanPhoto(buffer.getvalue(), bare.width, bare.height, rules.ACCEPTED[kind])


def _flatten(image: Image.Image) -> Image.Image:
    """RGB, with any transparency laid on white (a JPEG has no alpha)."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def store_photo(
    session: Session,
    merchant_id: int,
    *,
    data: bytes,
    filename: str = "",
    content_type: str | None = None,
    upload_token: str | None = None,
    return_request_id: int | None = None,
    return_line_id: int | None = None,
    storage_dir: Path | None = None,
) -> ReturnPhoto:
    """Check, re-encode and store one upload, either for the portal draft ``upload_token`` (the
    return does not exist yet; ``attach_photos`` hands it over later) or for an existing return
    (and line) of this shop. The client's ``filename`` and ``content_type`` are never trusted: the
    bytes decide. Refused: ``InvalidInput`` (field ``photos``), nothing stored."""
    if upload_token is None and return_request_id is None:
        raise ValueError("a photo belongs to an upload token or to a return")
    if return_request_id is not None:
        _check_owner(session, merchant_id, return_request_id, return_line_id)
    photo = clean(data)
    sha256 = hashlib.sha256(photo.data).hexdigest()
    relative = Path(str(merchant_id), "photos", rules.stored_name(sha256))
    path = (Path(storage_dir) if storage_dir is not None else get_settings().storage_dir) / relative
    created = not path.exists()
    if created:
        _write_atomically(path, photo.data)
    row = ReturnPhoto(
        merchant_id=merchant_id,
        upload_token=upload_token,
        return_request_id=return_request_id,
        return_line_id=return_line_id,
        path=relative.as_posix(),
        width=photo.width,
        height=photo.height,
        size_bytes=len(photo.data),
        content_type="image/jpeg",
        original_content_type=photo.content_type,
        sha256=sha256,
    )
    try:
        session.add(row)
        session.flush()
    except BaseException:
        if created:
            path.unlink(missing_ok=True)
        raise
    return row


def _check_owner(session: Session, merchant_id: int, return_request_id: int, return_line_id: int | None) -> None:
    """The return (and line) must be this shop's: ``NotFound`` otherwise, never another's row."""
    request = return_service.get_return(session, merchant_id, return_request_id)
    if return_line_id is not None and return_line_id not in {line.id for line in request.lines}:
        raise NotFound("no such return line")


def attach_photos(
    session: Session,
    merchant_id: int,
    *,
    upload_token: str,
    photo_ids: list[int],
    return_request_id: int,
    return_line_id: int,
) -> None:
    """Hand the draft's photos to the return line just created. Only photos of this shop uploaded
    with this ``upload_token`` move: another session's photo IDs are ignored."""
    if not photo_ids:
        return
    for photo in session.scalars(
        select(ReturnPhoto).where(
            ReturnPhoto.merchant_id == merchant_id,
            ReturnPhoto.upload_token == upload_token,
            ReturnPhoto.id.in_(photo_ids),
        )
    ):
        photo.return_request_id = return_request_id
        photo.return_line_id = return_line_id


def photos_of_return(session: Session, merchant_id: int, return_id: int) -> list[ReturnPhoto]:
    return list(
        session.scalars(
            select(ReturnPhoto)
            .where(ReturnPhoto.merchant_id == merchant_id, ReturnPhoto.return_request_id == return_id)
            .order_by(ReturnPhoto.id)
        )
    )


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
