"""Money: a decimal string beside its currency, `{"amount": "500.00", "currency": "CNY"}`.

Inputs take a string or a number (`"500"`, `500`, `500.5`); a number is read from its shortest text, so
`0.1` is one tenth, never the binary float near it. Answers always write a string with the currency's minor
digits (ISO 4217: `CNY` and most others 2, `JPY` 0, `KWD` 3): amounts are exact and no client turns them
into a float on the way.
"""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, PlainSerializer, StringConstraints, WithJsonSchema, model_validator

# ISO 4217 currencies whose minor unit is not the hundredth
_MINOR_DIGITS = {
    **dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND"), 0),
    **dict.fromkeys(("VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
}
CURRENCY_PATTERN = r"^[A-Z]{3}$"


def minor_digits(currency: str | None) -> int:
    """Digits after the point of the currency's minor unit (2 when unknown or not given)."""
    return _MINOR_DIGITS.get(currency or "", 2)


def money_text(amount: Decimal, currency: str | None) -> str:
    """`Decimal("500")`, `"CNY"` → `"500.00"`; `JPY` → `"500"` (half up past the minor unit)."""
    quantum = Decimal(1).scaleb(-minor_digits(currency))
    return format(amount.quantize(quantum, rounding=ROUND_HALF_UP), "f")


def finer_than_minor_unit(amount: Decimal, currency: str | None) -> bool:
    """True when an amount has more digits after the point than its currency has (`0.001 CNY`)."""
    exponent = amount.normalize().as_tuple().exponent
    return isinstance(exponent, int) and -exponent > minor_digits(currency)


def _read(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("an amount is a decimal string or a number, not a boolean")
    if isinstance(value, int | float | str):
        try:
            value = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a decimal amount such as 500.00") from None
    if isinstance(value, Decimal) and not value.is_finite():
        raise ValueError("an amount must be a finite number")
    return value


Amount = Annotated[
    Decimal,
    BeforeValidator(_read),
    PlainSerializer(lambda value: format(value, "f"), return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "decimal", "examples": ["500.00"]}, mode="serialization"),
    WithJsonSchema(
        {"anyOf": [{"type": "string", "pattern": r"^-?\d+(\.\d+)?$"}, {"type": "number"}], "examples": ["500.00"]},
        mode="validation",
    ),
]
"""An amount of money: a decimal string or number in, a decimal string out (a model holding its currency
writes it with that currency's minor digits: `Money`, or `money_text` in its serializer)."""

Currency = Annotated[str, StringConstraints(pattern=CURRENCY_PATTERN)]
"""An ISO 4217 code: `CNY`."""


class Money(BaseModel):
    """An amount in a currency; the amount answered with the currency's minor digits."""

    amount: Amount
    currency: Currency

    @model_validator(mode="after")
    def _in_minor_units(self) -> "Money":
        if finer_than_minor_unit(self.amount, self.currency):
            digits = minor_digits(self.currency)
            raise ValueError(f"amount: {self.currency} has {digits} digit(s) after the point")
        self.amount = Decimal(money_text(self.amount, self.currency))
        return self
