"""What the desk's management commands read from their command lines."""

import argparse
import datetime


def day_argument(value: str) -> datetime.date:
    """An argparse type: a day written YYYY-MM-DD, refused in words otherwise."""
    try:
        return datetime.date.fromisoformat(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{value!r} is not a day: write it as YYYY-MM-DD") from error
