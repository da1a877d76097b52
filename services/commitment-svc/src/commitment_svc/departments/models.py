from datetime import datetime

from sqlalchemy import Column, DateTime
from sqlmodel import Field, SQLModel


class Department(SQLModel, table=True):
    __tablename__ = "departments"

    key: str = Field(primary_key=True)
    name: str
    parent_key: str | None = None
    row_version: int = 1
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class Position(SQLModel, table=True):
    __tablename__ = "positions"

    department_key: str = Field(primary_key=True)
    key: str = Field(primary_key=True)
    name: str
    ordinal: int = 0
