from datetime import datetime

from sqlalchemy import Column, DateTime
from sqlmodel import Field, SQLModel


class Segment(SQLModel, table=True):
    __tablename__ = "segments"

    key: str = Field(primary_key=True)
    name: str
    builtin: bool = False
    row_version: int = 1
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
