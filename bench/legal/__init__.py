"""How fast are the legal officer's pages? `python -m bench.legal --legal-cases L`

The benchmark builds, in a PostgreSQL database of its own on DATABASE_URL's server, the nightly
cycle's benchmark portfolio (bench.collection_cycle.portfolio) of --loans loans (by default 7 a
legal case, about as few as give enough open cases), then the legal track (build): L of its open
collection cases moved into litigation (those there already first, then the longest overdue), and
on each a legal case spread over the states of legal.machine with the records of the steps it has
been through, written with INSERT ... SELECT: lawyer's letters, mediations, payment orders,
filings with their claim itemised from the loan, hearings held and to come, judgments (awaiting
their appeal period or in effect), enforcements with money received (a payment on the loan and its
receipt) and assets frozen, costs, and the move into the state for the timeline. 85 % of the legal
cases are legal1's, 10 % legal2's, the rest nobody's yet; twelve courts and six law firms.

Then it runs, once each and timed, the nightly cycle's limitation step (legal.limitation) and the
deadline reminders (legal.reminders, the e-mails kept in memory) over the whole portfolio, and,
logged in with force_login, requests the pages through Django's whole stack in this process
(django.test.Client) and times each request (run): as legal1 the legal queue plain and filtered by
state, by court, by law firm and by the limitation flag, and the legal case page over legal1's
cases; as supervisor1 the legal portfolio. It prints the figures as bench.workspace does: p50, p95
and max in milliseconds over --requests requests after --warm-up ones, the SQL queries per
request, the answers, and the plan of the slowest request's slowest query.

A run's database is bench_legal_<8 random hex digits> (or --database-name), dropped at the end
unless --keep; --reuse times an existing one without building it (the night's flags and reminders
undone first). DATABASE_URL's role needs CREATEDB. Names starting with test_ are refused.

The modules: __main__ (the command), build (the legal cases and their records), requests (what is
requested) and run (the nightly steps and the pages' timing). The portfolio, the server's
databases and the progress bar are the nightly cycle's benchmark's, the timing and the report the
workspace's (bench.workspace.run)."""
