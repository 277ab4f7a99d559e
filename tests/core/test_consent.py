"""Consent validity: scope, start date, expiry, revocation, and the refusal message."""

from __future__ import annotations

import pytest

from deepstudio.core.consent import require_consent, valid_consent
from deepstudio.core.project import ConsentRecord, Identity
from deepstudio.errors import ConsentError
from deepstudio.types import Id


def record(cid: str = "k1", scope: tuple[str, ...] = ("swap",), date: str = "2024-01-01",
           expiry: str | None = "2024-12-31", revoked_date: str | None = None) -> ConsentRecord:
    return ConsentRecord(Id(cid), "Anna", "Producer", date, list(scope), expiry, None,
                         revoked_date is not None, revoked_date)


def anna(*records: ConsentRecord) -> Identity:
    return Identity(Id("i1"), "Anna", [], list(records))


def test_valid_within_dates_and_scope() -> None:
    r = record()
    assert valid_consent(anna(r), "swap", "2024-06-01") is r
    assert valid_consent(anna(r), "swap", "2024-01-01") is r  # first day counts
    assert valid_consent(anna(r), "swap", "2024-12-31") is r  # expiry day counts


@pytest.mark.parametrize(("r", "day", "reason"), [
    (record(), "2025-01-01", "expired 2024-12-31"),
    (record(), "2023-12-31", "starts 2024-01-01"),
    (record(scope=("train",)), "2024-06-01", "does not cover 'swap'"),
    (record(revoked_date="2024-03-01"), "2024-06-01", "revoked on 2024-03-01"),
])
def test_invalid_consent_is_refused_with_reason(r: ConsentRecord, day: str, reason: str) -> None:
    identity = anna(r)
    assert valid_consent(identity, "swap", day) is None
    with pytest.raises(ConsentError) as info:
        require_consent(identity, "swap", day)
    message = str(info.value)
    assert message.startswith("identity 'Anna' has no valid consent for 'swap'")
    assert reason in message and "deepstudio consent add" in message and "\n" not in message


def test_revocation_only_counts_from_its_date() -> None:
    r = record(revoked_date="2024-03-01")
    assert valid_consent(anna(r), "swap", "2024-02-28") is r


def test_no_records_at_all() -> None:
    with pytest.raises(ConsentError, match="no valid consent for 'lipsync'"):
        require_consent(anna(), "lipsync", "2024-06-01")


def test_longest_lasting_valid_record_wins() -> None:
    short, open_ended = record("k1"), record("k2", expiry=None)
    assert valid_consent(anna(short, open_ended), "swap", "2024-06-01") is open_ended


def test_unknown_scope_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown consent scope"):
        valid_consent(anna(record()), "clone", "2024-06-01")
