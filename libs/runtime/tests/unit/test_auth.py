import pytest

from ensemble_runtime.auth import TokenRegistry, parse_token_map


def test_token_maps_to_its_principal_only() -> None:
    registry = TokenRegistry(parse_token_map('{"L85001": "tok-a", "L85002": "tok-b"}'))
    assert registry.principal_for("tok-b") == "L85002"
    assert registry.principal_for("tok-c") is None
    assert registry.principal_for("") is None


def test_token_map_must_be_an_object() -> None:
    assert parse_token_map("") == {}
    with pytest.raises(ValueError, match="JSON object"):
        parse_token_map('["tok"]')
