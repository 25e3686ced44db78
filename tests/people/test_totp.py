"""people.totp computes the codes an authenticator app shows (RFC 6238's own test vectors)."""

from __future__ import annotations

import pytest

from people.totp import current_code

RFC_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"  # base32 of "12345678901234567890"


@pytest.mark.parametrize(
    ("at", "code"),
    [(59, "287082"), (1111111109, "081804"), (1234567890, "005924"), (2000000000, "279037")],
)
def test_the_code_is_rfc_6238s(at: int, code: str) -> None:
    assert current_code(RFC_SECRET, at) == code
