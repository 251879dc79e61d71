"""What the benchmarks' command lines share."""

import argparse


def positive(value: str) -> int:
    """An argparse type: a whole number of at least one."""
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive number")
    return number
