"""How fast is the collector's workspace? `python -m bench.workspace --loans N --cases C`

The benchmark builds, in a PostgreSQL database of its own on DATABASE_URL's server, the nightly
cycle's benchmark portfolio of N loans (bench.collection_cycle.portfolio: borrowers, loans with
their schedules aged as of the day, the cases the cycle left), then what a desk that has worked it
for a while holds (build):

  - every borrower the contacts a desk collects: an emergency contact, and for some a work and a
    home phone, an employer (a switchboard shared by about 40 borrowers) and an e-mail address;
  - every open case a history of calls and SMS over the last 60 days;
  - one collector (collector1) given C open cases across every stage and bucket, the other cases
    they held spread over their team, and on each of the C cases a worked history written to obey
    the conduct limits: calls and SMS over up to 60 days, conversations, promises kept, broken
    (needing attention) and pending (some due today), callbacks done, due and to come, notes,
    stage changes, the assignment; a few borrowers lost contact, reached through third parties.

Then, logged in as that collector with force_login, it requests the workspace's pages through
Django's whole stack in this process (django.test.Client) and times each request (run): the queue
plain, filtered by each of its filters, searched by a loan number, a family name and the last four
digits of a phone number; the case page over many of the collector's cases; logging a call (POST)
on cases the conduct limits allow and on cases they refuse (a conversation a few days ago), each
on a case of its own. Quiet hours are the borrower's: when the run falls in them in China, the
cases the call is logged on are given to borrowers living where it is day (their time zone is
changed, and said), and a third series logs calls on borrowers in Asia/Shanghai as they are, which
the limits refuse for the hour. Nothing freezes the clock: the pages run at the real time.

For each operation it prints p50, p95 and max in milliseconds over --requests requests after
--warm-up ones, the SQL queries per request, the answers (status codes) and, on the slowest
request, the plan of its slowest query (from EXPLAIN) and any big table read whole.

A run's database is bench_workspace_<8 random hex digits> (or --database-name), dropped at the end
unless --keep; --reuse times an existing one without building it. DATABASE_URL's role needs
CREATEDB. Names starting with test_ (the test runs') are refused.

The modules: __main__ (the command), build (the collector's cases and the desk's history),
requests (what is requested, taken from the database) and run (the timing and the report). The
portfolio, the server's databases and the progress bar are the nightly cycle's benchmark's
(bench.collection_cycle), the plans the admin changelists' (bench.admin_changelists.timing)."""
