from decimal import Decimal

import pytest
from pledge_common.money import Amount, Money, finer_than_minor_unit, minor_digits, money_text
from pydantic import BaseModel, ValidationError


@pytest.mark.parametrize(
    ("given", "answered"),
    [("500", "500.00"), (500, "500.00"), (500.5, "500.50"), ("0.1", "0.10"), (0.1, "0.10"), (" 12.30 ", "12.30")],
)
def test_money_takes_a_string_or_a_number_and_answers_a_string_with_the_minor_digits(
    given: object, answered: str
) -> None:
    money = Money.model_validate({"amount": given, "currency": "CNY"})
    assert money.model_dump(mode="json") == {"amount": answered, "currency": "CNY"}


def test_a_number_is_read_from_its_shortest_text_not_its_binary_float() -> None:
    assert Money.model_validate({"amount": 0.1, "currency": "USD"}).amount == Decimal("0.10")


@pytest.mark.parametrize(("currency", "digits", "text"), [("CNY", 2, "5.00"), ("JPY", 0, "5"), ("KWD", 3, "5.000")])
def test_the_minor_digits_are_the_currencys(currency: str, digits: int, text: str) -> None:
    assert minor_digits(currency) == digits
    assert money_text(Decimal(5), currency) == text
    assert (
        Money(amount=Decimal(5), currency=currency).model_dump_json()
        == f'{{"amount":"{text}","currency":"{currency}"}}'
    )


@pytest.mark.parametrize(
    "body",
    [
        {"amount": "0.001", "currency": "CNY"},
        {"amount": "1.5", "currency": "JPY"},
        {"amount": "five", "currency": "CNY"},
        {"amount": "NaN", "currency": "CNY"},
        {"amount": True, "currency": "CNY"},
        {"amount": "5", "currency": "yuan"},
    ],
)
def test_what_is_not_an_amount_in_its_currency_is_refused(body: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Money.model_validate(body)


def test_finer_than_the_minor_unit() -> None:
    assert finer_than_minor_unit(Decimal("0.001"), "CNY")
    assert not finer_than_minor_unit(Decimal("0.010"), "CNY")


def test_an_amount_is_published_as_a_decimal_string_and_read_from_a_string_or_a_number() -> None:
    class Fee(BaseModel):
        fee: Amount

    assert Fee.model_json_schema(mode="serialization")["properties"]["fee"]["type"] == "string"
    assert {"type": "number"} in Fee.model_json_schema(mode="validation")["properties"]["fee"]["anyOf"]
    assert Fee(fee=Decimal("1.50")).model_dump_json() == '{"fee":"1.50"}'
