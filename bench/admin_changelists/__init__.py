"""How fast are the admin's big lists? `python -m bench.admin_changelists`

Times the admin's changelists of loans, borrowers, contacts, collection cases, contact attempts,
payments and outbound messages on the populated database of DATABASE_URL (a desk seeded with
`seed_demo --superuser`, say), through the real admin views: Django's test client, logged in as
the database's first active superuser with force_login. Each list is requested plain, searched with each shape the desk
searches by (an account number whole and its start, a national ID number, a phone number as typed
and its start, a borrower's whole name and family name), and filtered by each of its filters. The
terms and filter values are taken from a case in the middle of the database: its loan, borrower and
mobile number.

For each request it prints the median wall time of --repeat runs after a warm-up, the queries the
page ran, the rows it found and, on PostgreSQL, the plan of its slowest query (the first nodes,
from EXPLAIN) and the big tables (over 10,000 rows) any of its queries reads with a sequential scan.

It only reads, but for the session row of the login. It refuses a database whose name starts with
test_: those are the test runs'.

The modules: __main__ (the command), requests (what is requested, taken from the database) and
timing (one request timed, counted and explained)."""
