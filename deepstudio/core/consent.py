"""Consent checks: may this identity be trained on / swapped / lip-synced on a given day?

A record is valid on a day when it covers the scope, was recorded on or before that day,
has not expired (the expiry day itself still counts) and was not revoked on or before it.
"""

from __future__ import annotations

from datetime import date

from deepstudio.core.project import CONSENT_SCOPES, ConsentRecord, Identity
from deepstudio.errors import ConsentError


def _day(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def _problem(record: ConsentRecord, scope: str, on: date) -> str | None:
    """Why ``record`` does not allow ``scope`` on day ``on`` (None: it does)."""
    if scope not in record.scope:
        return f"consent {record.id} does not cover {scope!r}"
    if _day(record.date) > on:
        return f"consent {record.id} starts {record.date}"
    if record.revoked and (record.revoked_date is None or _day(record.revoked_date) <= on):
        return f"consent {record.id} was revoked" + (
            f" on {record.revoked_date}" if record.revoked_date else "")
    if record.expiry is not None and _day(record.expiry) < on:
        return f"consent {record.id} expired {record.expiry}"
    return None


def _check_scope(scope: str) -> None:
    if scope not in CONSENT_SCOPES:
        raise ValueError(f"unknown consent scope {scope!r} (known: {list(CONSENT_SCOPES)})")


def valid_consent(identity: Identity, scope: str,
                  on_date: date | str | None = None) -> ConsentRecord | None:
    """The valid record for ``scope`` on ``on_date`` (default today) lasting longest, or None."""
    _check_scope(scope)
    on = date.today() if on_date is None else _day(on_date)
    valid = [r for r in identity.consents if _problem(r, scope, on) is None]
    return max(valid, key=lambda r: date.max if r.expiry is None else _day(r.expiry),
               default=None)


def require_consent(identity: Identity, scope: str,
                    on_date: date | str | None = None) -> ConsentRecord:
    """Like :func:`valid_consent`, but raise :class:`ConsentError` saying why there is none."""
    record = valid_consent(identity, scope, on_date)
    if record is not None:
        return record
    on = date.today() if on_date is None else _day(on_date)
    reasons = [p for r in identity.consents if (p := _problem(r, scope, on)) is not None]
    relevant = [p for p in reasons if "does not cover" not in p] or reasons
    why = f"; {relevant[-1]}" if relevant else ""
    raise ConsentError(
        f"identity {identity.name!r} has no valid consent for {scope!r} on {on.isoformat()}"
        f"{why} (add one with deepstudio consent add --identity {identity.name!r} "
        f"--scope {scope} ...)")
