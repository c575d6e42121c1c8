"""Per-learner variants: every learner gets events seeded by learner and exercise."""

import hashlib


def variant_seed(*, learner_id: int, exercise_slug: str) -> int:
    """Stable for a learner and exercise; different across learners. Fits a signed 63-bit field."""
    digest = hashlib.sha256(f"coldstart-variant:{learner_id}:{exercise_slug}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1
