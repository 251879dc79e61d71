"""Benchmarks: commands that build data of a given size and print how long the desk's jobs take
on it. Timing belongs here, not in the tests."""
