"""The reply token: signed, names the recipient and the artifact, fits a local part, survives rotation."""

from __future__ import annotations

import pytest

from tracker.email_gateway import tokens


@pytest.fixture(autouse=True)
def gateway_on(settings) -> None:
    settings.EMAIL_GATEWAY_DOMAIN = "tracker.example.org"


def test_a_token_names_the_recipient_and_the_artifact() -> None:
    token = tokens.make_token(42, 1234)

    assert tokens.read_token(token) == tokens.ReplyToken(42, 1234)


def test_the_address_fits_rfc_5321_and_survives_case_folding() -> None:
    # It should stay under 64 characters for the largest ids we can expect (36**7 - 1).
    address = tokens.reply_address(36**7 - 1, 36**7 - 1)
    local = address.split("@")[0]

    assert len(local) <= 64
    assert address.endswith("@tracker.example.org")
    assert tokens.read_token(tokens.token_of(address.upper())) == tokens.ReplyToken(36**7 - 1, 36**7 - 1)


@pytest.mark.parametrize("change", ["altered-id", "altered-signature", "truncated"])
def test_an_altered_token_is_refused(change: str) -> None:
    token = tokens.make_token(42, 1234)
    value, _, signature = token.rpartition(".")
    forged = {
        "altered-id": f"{value.replace('16', '17')}.{signature}",
        "altered-signature": f"{value}.{'0' if signature[0] != '0' else '1'}{signature[1:]}",
        "truncated": token[:-4],
    }[change]

    with pytest.raises(tokens.BadToken):
        tokens.read_token(forged)


def test_another_salt_or_key_does_not_verify(settings) -> None:
    token = tokens.make_token(42, 1234)
    settings.SECRET_KEY = "another-secret-key-" * 3

    with pytest.raises(tokens.BadToken):
        tokens.read_token(token)


def test_tokens_signed_with_a_previous_key_verify_through_the_fallbacks(settings) -> None:
    old_key = settings.SECRET_KEY
    token = tokens.make_token(7, 9)
    settings.SECRET_KEY = "the-new-secret-key-" * 3
    settings.SECRET_KEY_FALLBACKS = [old_key]

    assert tokens.read_token(token) == tokens.ReplyToken(7, 9)


def test_token_of_only_reads_our_prefix_and_domain() -> None:
    assert tokens.token_of("reply+abc@tracker.example.org") == "abc"
    assert tokens.token_of("<Reply+abc@Tracker.Example.org>") == "abc"
    assert tokens.token_of("reply+abc@elsewhere.org") is None
    assert tokens.token_of("other+abc@tracker.example.org") is None
    assert tokens.token_of("reply@tracker.example.org") is None
