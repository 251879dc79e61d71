"""How fast is the nightly collection cycle? `python -m bench.collection_cycle --loans N`

Builds a portfolio of N loans in a database of its own on DATABASE_URL's PostgreSQL server
(`<database>_bench`, dropped at the end unless --keep): one borrower with one mobile number per
loan, 12 monthly installments per loan (about 80 % current, 7 % M1, 3 % M2, 2 % M3, 3 % M4+ and
5 % paid off as of the day, some installments partly paid), the demo desk's teams and
collectors, and the cases the cycle left the night before: cases in every stage, some with two
broken promises, pending litigation requests, cases of loans paid since, closed cases; and a fifth
of the open cases in negotiation, escalation or on hold with a pending promise to pay, due one to
six days before the day, with payments in and around its window that keep it, keep it partly or
leave it broken. Then, each on its own copy of that database (CREATE DATABASE ... TEMPLATE), it
times:

  cycle  collection.cycle.collection_cycle: the nightly job as the desk runs it;
  floor  the same work as hand-written SQL statements over whole tables, no Python per row:
         re-ageing, opening and allocating cases, resolving them, settling the promises due,
         the stage rules' moves and escalation requests with a transition-log row each, the
         snapshot;
  naive  collection.cycle.collection_cycle_case_by_case (one-case services in a loop) on a
         sample of loans, extrapolated to N (its whole-portfolio passes, the promise step
         and the snapshot, timed once).

Each phase runs in a process of its own, so that the peak memory printed is that phase's. The
last line is `ratio cycle/floor: X.XX`. The same N, seed and day give the same rows."""
