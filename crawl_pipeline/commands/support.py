"""Shared pieces of the command line: one-line user errors and the account-id parameter."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import Any

import click

from crawl_pipeline.db.connection import DatabaseUnavailable
from crawl_pipeline.db.migrate import MigrationError
from crawl_pipeline.db.stack import InstanceConfigError
from crawl_pipeline.domain.identity import parse_account_id
from crawl_pipeline.settings import SettingsError


def fail(message: str) -> None:
    click.echo(f"crawl-pipeline: error: {message}", err=True)
    sys.exit(2)


def handles_user_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn configuration and connection errors into one line and exit code 2."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (DatabaseUnavailable, SettingsError, MigrationError, InstanceConfigError) as exc:
            fail(str(exc))

    return wrapper


class AccountIdType(click.ParamType):
    name = "ACCOUNT_ID"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        try:
            return parse_account_id(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


ACCOUNT_ID = AccountIdType()
