"""The accounts API's request and response models."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from target_app.accounts.passwords import MAX_LENGTH, MIN_LENGTH
from target_app.schemas import StrictModel

EMAIL_PATTERN = r"^[^@\s\x00]{1,64}@[^@\s\x00]{1,128}\.[A-Za-z]{2,24}$"
Email = Field(max_length=200, pattern=EMAIL_PATTERN, description="The account's email address.")


class Registration(StrictModel):
    email: str = Email
    password: str = Field(
        min_length=MIN_LENGTH,
        max_length=MAX_LENGTH,
        description=f"{MIN_LENGTH} to {MAX_LENGTH} characters; stored only as an Argon2id hash.",
    )
    name: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00]*$")


class Credentials(StrictModel):
    email: str = Field(max_length=200, description="The account's email address.")
    password: str = Field(min_length=1, max_length=MAX_LENGTH)


class RefreshRequest(StrictModel):
    refresh_token: str = Field(min_length=1, max_length=200)


class TokenPair(StrictModel):
    """What a login or a refresh answers: send the access token as `Authorization: Bearer`."""

    access_token: str = Field(description="A JWT (HS256), valid `expires_in` seconds.")
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int = Field(description="Seconds the access token is valid for.")
    refresh_token: str = Field(
        description="Spend it at /auth/refresh for a new pair; each one works once."
    )


class UserOut(StrictModel):
    id: int
    email: str
    name: str
    role: Literal["shopper", "admin"]
