"""Run untrusted programs with limits and isolation; the test harness for code rewards."""
