"""How fast is the dashboard? `python -m bench.dashboard --loans N`

Builds a portfolio of N loans in a PostgreSQL database of its own on DATABASE_URL's server (the
nightly cycle's benchmark's build, bench.collection_cycle.portfolio: loans, schedules, cases in every
stage, promises, payments), adds the history the dashboard reads (history.py: 120 days of attempts,
payments, reminders and conduct refusals on the cases and 200 days of daily portfolio snapshots,
all INSERT ... SELECT), then requests /dashboard/ through Django's test client, as an admin for
the whole desk and as the first team's supervisor for their team:

  desk this month, desk last 90 days, team this month, team last 90 days, CSV by stage 90 days

each --requests times after --warm-up, and prints per request p50, p95 and max in milliseconds, the
queries of the last request and the answers' statuses. The last line says how many stayed under a
second at p95.

The database is bench_dashboard_<8 random hex digits> (or --database-name), dropped at the end
unless --keep; with --reuse, a kept database that holds loans is timed again without a build (to
measure an index: build once, time, migrate, time). Names starting with test_ are refused, and so
is DATABASE_URL's own database.

The modules: __main__ (the command), history (the dashboard's records, in SQL) and run (the timing)."""
