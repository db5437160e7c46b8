"""Shared building blocks for the shop's Flask services."""

from shopcommon.app import init_service
from shopcommon.db import db
from shopcommon.errors import APIError

__all__ = ["APIError", "db", "init_service"]
