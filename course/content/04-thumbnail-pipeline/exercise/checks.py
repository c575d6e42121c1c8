"""Trusted checks for the thumbnail exercise. Runs in the worker, never in the jail.

`seed_images` puts a real image (made here with Pillow) at every key the event names, so the
handler reads real bytes; the checks then decode the thumbnails it wrote.
"""

import base64
import functools
import hashlib
import io
import urllib.parse
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from sandbox.checks import CheckContext, CheckFailed, show

BOX = 128
SEED_METADATA = {"seeded-by": "coldstart"}
CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif"}

# What each case puts in S3, by decoded key: (format, width, height, mode).
IMAGES = {
    "uploads/cat.jpg": ("JPEG", 640, 480, "RGB"),
    "uploads/red flower.png": ("PNG", 300, 200, "RGBA"),
    "thumbnails/cat.jpg": ("JPEG", 128, 96, "RGB"),  # a thumbnail written by an earlier run
    "uploads/icons/app icon.gif": ("GIF", 100, 60, "P"),
    "uploads/2025/café menu+prices.jpg": ("JPEG", 240, 600, "RGB"),
    "uploads/a.jpg": ("JPEG", 400, 400, "RGB"),
    "avatars/me.png": ("PNG", 64, 64, "RGBA"),
    "uploads/b c.png": ("PNG", 500, 100, "RGB"),
}


@functools.cache
def image_bytes(fmt: str, width: int, height: int, mode: str) -> bytes:
    """A deterministic picture (gradients, so that it compresses like a photo, not like a flat fill)."""
    linear = Image.linear_gradient("L").resize((width, height))
    radial = Image.radial_gradient("L").resize((width, height))
    image = Image.merge("RGB", (linear, radial, linear.transpose(Image.Transpose.ROTATE_180)))
    if mode == "RGBA":
        image.putalpha(radial.point(lambda v: 255 - v))
    elif mode == "P":
        image = image.convert("P", palette=Image.Palette.ADAPTIVE)
    out = io.BytesIO()
    image.save(out, format=fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return out.getvalue()


def seed_images(event: dict) -> dict:
    """Put the image each record names into its bucket (the bucket name is the learner's variant)."""
    buckets: dict[str, list[dict]] = {}
    for record in event["Records"]:
        bucket = record["s3"]["bucket"]["name"]
        key = urllib.parse.unquote_plus(record["s3"]["object"]["key"])
        fmt, width, height, mode = IMAGES[key]
        buckets.setdefault(bucket, []).append(
            {
                "key": key,
                "body_base64": base64.b64encode(image_bytes(fmt, width, height, mode)).decode(),
                "content_type": CONTENT_TYPES[fmt],
                "metadata": dict(SEED_METADATA),
            }
        )
    return {"s3": [{"bucket": bucket, "objects": objects} for bucket, objects in buckets.items()]}


# --- What the handler should have done


@dataclass(frozen=True)
class Record:
    bucket: str
    raw_key: str  # as it arrives in the event
    key: str  # decoded
    thumb: str | None  # None: outside uploads/, to skip


def thumbnail_key(key: str) -> str:
    return "thumbnails/" + key.removeprefix("uploads/")


def records(event: dict) -> list[Record]:
    found = []
    for record in event["Records"]:
        raw = record["s3"]["object"]["key"]
        key = urllib.parse.unquote_plus(raw)
        thumb = thumbnail_key(key) if key.startswith("uploads/") else None
        found.append(Record(record["s3"]["bucket"]["name"], raw, key, thumb))
    return found


def fit(width: int, height: int) -> tuple[int, int]:
    """The size Image.thumbnail((128, 128)) gives: fit in the box, keep the ratio, never enlarge."""
    scale = min(BOX / width, BOX / height, 1.0)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _sha256_b64(body_base64: str) -> str:
    return hashlib.sha256(base64.b64decode(body_base64)).hexdigest()


def _seeded(ctx: CheckContext) -> dict[tuple[str, str], dict]:
    return {
        (bucket["bucket"], obj["key"]): obj
        for bucket in ctx.seed_state.get("s3", [])
        for obj in bucket.get("objects", [])
    }


def _changes(ctx: CheckContext) -> tuple[dict[tuple[str, str], dict], list[tuple[str, str]]]:
    """(objects the function created or overwrote, seeded objects it deleted)."""
    seeded = _seeded(ctx)
    written = {}
    for bucket, objects in ctx.aws_state.get("s3", {}).items():
        for key, obj in objects.items():
            before = seeded.get((bucket, key))
            if before is None:
                written[(bucket, key)] = obj
            elif obj.get("sha256") != _sha256_b64(before["body_base64"]) or (
                obj.get("metadata") or {}
            ) != before.get("metadata", {}):
                written[(bucket, key)] = obj  # overwritten (a put_object drops the seeded metadata)
    deleted = [where for where in seeded if where[1] not in ctx.s3_objects(where[0])]
    return written, deleted


def _s3(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


# --- Checks


def writes_thumbnails(ctx: CheckContext) -> None:
    """Every upload has a JPEG thumbnail under thumbnails/; nothing else was written or deleted."""
    recs = records(ctx.event)
    written, deleted = _changes(ctx)
    skipped = [r for r in recs if r.thumb is None]

    for bucket, key in written:
        if key.startswith("uploads/"):
            raise CheckFailed(
                f"Your function wrote {_s3(bucket, key)}. The notification covers the whole bucket, so any "
                "object created under uploads/ is a new upload: the function would run again on its own "
                "output, and again, in a loop you pay for (the recursive trigger).",
                hint="Write each thumbnail under thumbnails/: 'uploads/2025/cat.jpg' becomes "
                "'thumbnails/2025/cat.jpg'. Never write into uploads/.",
            )
    for bucket, key in deleted:
        raise CheckFailed(
            f"{_s3(bucket, key)} was there before the invocation and is gone now.",
            hint="Leave the original where it is: read it with get_object, write only the thumbnail.",
        )

    for rec in recs:
        if rec.thumb is not None:
            obj = ctx.s3_objects(rec.bucket).get(rec.thumb)
            if obj is None:
                _missing(rec, written)
            _check_thumbnail(rec, obj, ctx)

    expected = {(r.bucket, r.thumb) for r in recs if r.thumb is not None}
    extra = sorted(where for where in written if where not in expected)
    if extra:
        listed = ", ".join(_s3(*where) for where in extra)
        if skipped:
            outside = ", ".join(repr(r.key) for r in skipped)
            loop = ""
            if any(r.key.startswith("thumbnails/") for r in skipped):
                loop = (
                    " A key under thumbnails/ is a thumbnail you wrote earlier: making a thumbnail of it "
                    "is the recursive-trigger loop."
                )
            raise CheckFailed(
                f"Your function wrote {listed}, but the record(s) for {outside} are outside uploads/ "
                f"and must be skipped without reading or writing anything.{loop}",
                expected=sorted(_s3(*where) for where in expected),
                got=[_s3(*where) for where in extra],
                hint="Decode the key first, then skip it: `if not key.startswith('uploads/'): continue`.",
            )
        raise CheckFailed(
            f"Your function also wrote {listed}; the only objects it should create are "
            f"{', '.join(_s3(*where) for where in sorted(expected)) or 'none'}.",
            hint="Write exactly one object per upload: its thumbnail.",
        )


def _missing(rec: Record, written: dict[tuple[str, str], dict]) -> None:
    assert rec.thumb is not None
    rest = rec.key.removeprefix("uploads/")
    stem, dot, _ = rest.rpartition(".")
    # Later entries win when two mistakes give the same key.
    near_misses = {
        "thumbnails/" + urllib.parse.unquote(rec.raw_key).removeprefix("uploads/"): (
            "urllib.parse.unquote leaves '+' as it is, but S3 encodes spaces as '+'. Use unquote_plus."
        ),
        "thumbnails/" + rec.raw_key.removeprefix("uploads/"): (
            "You used the key as it arrives in the event. S3 form-URL-encodes keys in notifications "
            "('red flower.png' arrives as 'red+flower.png'): decode it with urllib.parse.unquote_plus "
            "(not unquote, which leaves the '+') before you build the thumbnail's key."
        ),
        "thumbnails/" + rec.key: (
            "Replace the 'uploads/' prefix with 'thumbnails/'; don't put the whole key after it."
        ),
        "thumbnails/" + rest.rsplit("/", 1)[-1]: "Keep the folders after uploads/: "
        "'uploads/2025/cat.jpg' becomes 'thumbnails/2025/cat.jpg'.",
        "thumbnails/" + (stem + ".jpg" if dot else rest + ".jpg"): (
            "Keep the rest of the name as it is, extension included: 'uploads/red flower.png' becomes "
            "'thumbnails/red flower.png' (the bytes are JPEG; ContentType says so)."
        ),
    }
    for bucket, key in written:
        if bucket == rec.bucket and key in near_misses and key != rec.thumb:
            raise CheckFailed(
                f"Expected the thumbnail of {rec.key!r} at {_s3(rec.bucket, rec.thumb)}; your function wrote "
                f"{_s3(bucket, key)} instead.",
                expected=rec.thumb,
                got=key,
                hint=near_misses[key],
            )
    if any(key == rec.thumb for _bucket, key in written):
        other = next(bucket for bucket, key in written if key == rec.thumb)
        raise CheckFailed(
            f"The thumbnail is in bucket {other!r}; expected it in {rec.bucket!r}, the bucket of the upload.",
            hint="Use the bucket name from the record: record['s3']['bucket']['name'].",
        )
    if written:
        raise CheckFailed(
            f"Expected the thumbnail of {rec.key!r} at {_s3(rec.bucket, rec.thumb)}; it is not there. Your "
            f"function wrote {', '.join(_s3(*where) for where in sorted(written))}.",
            expected=rec.thumb,
            hint="The thumbnail's key is 'thumbnails/' plus the decoded key without its 'uploads/' prefix.",
        )
    raise CheckFailed(
        f"Expected a thumbnail at {_s3(rec.bucket, rec.thumb)}; your function wrote nothing to S3.",
        expected=rec.thumb,
        hint="After resizing, call s3.put_object(Bucket=bucket, Key=thumb_key, Body=thumb_bytes, "
        "ContentType='image/jpeg').",
    )


def _check_thumbnail(rec: Record, obj: dict, ctx: CheckContext) -> None:
    where = _s3(rec.bucket, rec.thumb or "")
    original = _seeded(ctx)[(rec.bucket, rec.key)]
    original_bytes = base64.b64decode(original["body_base64"])
    with Image.open(io.BytesIO(original_bytes)) as source:
        source_format, (width, height) = source.format, source.size
    if "body_base64" not in obj:
        raise CheckFailed(
            f"{where} is {obj.get('size', '?')} bytes: far more than a 128×128 JPEG (a few KB).",
            hint="Shrink the image with image.thumbnail((128, 128)) before saving it.",
        )
    body = base64.b64decode(obj["body_base64"])
    if body == original_bytes:
        raise CheckFailed(
            f"{where} holds the original {source_format} image unchanged ({width}×{height}).",
            hint="Open the bytes with Image.open(io.BytesIO(data)), call image.thumbnail((128, 128)), then "
            "save it as JPEG into a BytesIO and upload that.",
        )
    try:
        with Image.open(io.BytesIO(body)) as thumb:
            thumb_format, (got_w, got_h) = thumb.format, thumb.size
    except (UnidentifiedImageError, OSError):
        raise CheckFailed(
            f"{where} is not an image Pillow can open (it starts with {show(body[:16].decode('latin-1'))}).",
            hint="Upload the bytes of the saved JPEG: out = io.BytesIO(); image.save(out, format='JPEG'); "
            "Body=out.getvalue().",
        ) from None
    if thumb_format != "JPEG":
        raise CheckFailed(
            f"{where} is a {thumb_format} image; expected JPEG.",
            expected="JPEG",
            got=thumb_format,
            hint="Pass the format explicitly: image.save(out, format='JPEG'). Convert first if the mode "
            "is not RGB: image = image.convert('RGB').",
        )

    want_w, want_h = fit(width, height)
    size_msg = f"{where} is {got_w}×{got_h}; the original is {width}×{height}, so expected {want_w}×{want_h}"
    if got_w > BOX or got_h > BOX:
        raise CheckFailed(
            f"{size_msg}, which fits within 128×128.",
            expected=[want_w, want_h],
            got=[got_w, got_h],
            hint="Call image.thumbnail((128, 128)) before saving; it shrinks in place and returns None.",
        )
    if width <= BOX and height <= BOX and (got_w, got_h) != (width, height):
        raise CheckFailed(
            f"{size_msg}: a thumbnail never enlarges an image that already fits.",
            expected=[want_w, want_h],
            got=[got_w, got_h],
            hint="image.thumbnail((128, 128)) never enlarges; image.resize((128, 128)) does.",
        )
    if abs(got_w - want_w) > 1 or abs(got_h - want_h) > 1:
        hint = "Use image.thumbnail((128, 128)), which keeps the aspect ratio."
        if (got_w, got_h) == (BOX, BOX):
            hint = (
                "image.resize((128, 128)) stretches the picture into a square; "
                "image.thumbnail((128, 128)) keeps its proportions."
            )
        raise CheckFailed(
            f"{size_msg} (the same aspect ratio, ±1 pixel).",
            expected=[want_w, want_h],
            got=[got_w, got_h],
            hint=hint,
        )

    content_type = obj.get("content_type")
    if content_type != "image/jpeg":
        hint = "Pass ContentType='image/jpeg' to put_object; it describes the bytes you wrote."
        if content_type in (None, "", "binary/octet-stream", "application/octet-stream"):
            hint = (
                "You left ContentType out, so S3 stored binary/octet-stream and a browser would download the "
                "thumbnail instead of showing it. Pass ContentType='image/jpeg' to put_object."
            )
        elif content_type == original.get("content_type"):
            hint = (
                f"You copied the original's type ({content_type}), but the bytes you wrote are JPEG. "
                "Pass ContentType='image/jpeg'."
            )
        raise CheckFailed(
            f"{where} has ContentType {content_type!r}; expected 'image/jpeg'.",
            expected="image/jpeg",
            got=content_type,
            hint=hint,
        )


def returns_thumbnail_keys(ctx: CheckContext) -> None:
    """The return value lists the thumbnails written, in the order of the records."""
    recs = records(ctx.event)
    expected = {"thumbnails": [r.thumb for r in recs if r.thumb is not None]}
    got = ctx.result
    if not isinstance(got, dict) or not isinstance(got.get("thumbnails"), list):
        raise CheckFailed(
            f"The return value is {show(got)}; expected {show(expected)}.",
            expected=expected,
            got=got,
            hint='Return {"thumbnails": [...]}: the keys you wrote, or an empty list when you skipped '
            "every record.",
        )
    listed = got["thumbnails"]
    if listed == expected["thumbnails"] and set(got) == {"thumbnails"}:
        return
    hint = "List each thumbnail key you wrote, in the order of the records."
    if listed == [r.key for r in recs if r.thumb is not None]:
        hint = "You listed the original keys; list the thumbnails' keys (thumbnails/...)."
    elif any(r.thumb is None and (r.key in listed or thumbnail_key(r.key) in listed) for r in recs):
        hint = "Records outside uploads/ are skipped: nothing is written for them, so nothing is listed."
    elif listed == ["thumbnails/" + r.raw_key.removeprefix("uploads/") for r in recs if r.thumb is not None]:
        hint = "These are the keys as encoded in the event; decode them with urllib.parse.unquote_plus."
    elif sorted(map(str, listed)) == sorted(expected["thumbnails"]):
        hint = "The right keys in the wrong order: follow the order of event['Records']."
    elif listed == expected["thumbnails"]:
        hint = 'Return exactly {"thumbnails": [...]}, with no other keys.'
    raise CheckFailed(
        f"The return value is {show(got)}; expected {show(expected)}.", expected=expected, got=got, hint=hint
    )
