"""Table models of surveys (the HTTP contract is in schemas.py)."""

import uuid
from datetime import datetime

from sqlalchemy import Column, DateTime, Text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Field, SQLModel


class SurveyInstrument(SQLModel, table=True):
    __tablename__ = "survey_instruments"

    key: str = Field(primary_key=True)
    name: str
    description: str | None = None
    builtin: bool = False
    dimensions: list[str] = Field(sa_column=Column(ARRAY(Text), nullable=False))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class SurveyItem(SQLModel, table=True):
    __tablename__ = "survey_items"

    instrument_key: str = Field(primary_key=True, foreign_key="survey_instruments.key")
    item_key: str = Field(primary_key=True)
    position: int
    dimension: str
    text: str


class SurveyResponse(SQLModel, table=True):
    __tablename__ = "survey_responses"

    id: uuid.UUID = Field(primary_key=True)
    instrument_key: str = Field(foreign_key="survey_instruments.key")
    respondent_ref: str | None = None
    segment: str | None = None
    process_key: str | None = None
    sources: list[str] | None = Field(default=None, sa_column=Column(ARRAY(Text), nullable=True))
    responded_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class SurveyAnswer(SQLModel, table=True):
    __tablename__ = "survey_answers"

    response_id: uuid.UUID = Field(primary_key=True, foreign_key="survey_responses.id")
    item_key: str = Field(primary_key=True)
    dimension: str
    expectation: int | None = None
    perception: int | None = None
    skipped: bool = False


class SurveyImportance(SQLModel, table=True):
    __tablename__ = "survey_importance"

    response_id: uuid.UUID = Field(primary_key=True, foreign_key="survey_responses.id")
    dimension: str = Field(primary_key=True)
    points: int
