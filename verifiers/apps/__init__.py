"""Apps: the programs users run on top of the library.

    cli.py, cli_io.py  the `verify` command (JSONL in, JSONL out, pass@k / maj@k reports)
    evaluate.py        pass@k, maj@k, rejection-sampling rules and the report for `verify`
    server.py          `verify serve`: the HTTP reward server (/score, OpenRLHF's /get_reward)
    microbatch.py      merges concurrent HTTP requests into reward-service batches
    http_guards.py, request_checks.py  what the server refuses before scoring
"""
