from datetime import datetime

from sqlalchemy import Column, DateTime
from sqlmodel import Field, SQLModel


class Process(SQLModel, table=True):
    __tablename__ = "processes"

    key: str = Field(primary_key=True)
    name: str
    description: str = ""
    owner_department: str | None = None
    row_version: int = 1
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class ProcessNode(SQLModel, table=True):
    __tablename__ = "process_nodes"

    process_key: str = Field(primary_key=True)
    key: str = Field(primary_key=True)
    name: str
    position: int
    department: str | None = None
    position_key: str | None = None
