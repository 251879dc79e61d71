"""How fast is the nightly collection cycle? `python -m bench.collection_cycle --loans N`

The benchmark builds a portfolio of N loans in a PostgreSQL database of its own on DATABASE_URL's
server, then does one night's work on it three ways, each on its own copy of the built database
(CREATE DATABASE ... TEMPLATE) and in a process of its own, so that the peak memory printed is
that phase's:

  build  the portfolio, with INSERT ... SELECT generate_series statements, a chunk of loans per
         transaction so that memory stays flat: one borrower with one mobile number per loan,
         12 monthly installments per loan (about 80 % current, 7 % M1, 3 % M2, 2 % M3, 3 % M4+
         and 5 % paid off as of the day, some installments partly paid), the demo desk's teams
         and collectors. Aged as of the day before by the desk's own refresh, it is given the
         cases the cycle left that night: cases in every stage, some with two broken promises,
         pending litigation requests, cases of loans paid since, closed cases; and a fifth of the
         open cases in negotiation, escalation or on hold with a pending promise to pay, due one
         to six days before the day, with payments in and around its window that keep it, keep
         it partly or leave it broken;
  cycle  collection.cycle.collection_cycle: the nightly job as the desk runs it;
  floor  the same work as hand-written SQL statements over whole tables, no Python per row:
         re-ageing, opening and allocating cases, resolving them, settling the promises due,
         the stage rules' moves and escalation requests with a transition-log row each, the
         snapshot (repayment plans are left out: the portfolio has none);
  naive  collection_cycle_case_by_case (one-case services in a loop) on a sample of loans,
         extrapolated to N; its whole-portfolio passes, the promise step and the snapshot, are
         timed once.

The floor is only a floor if it does the cycle's work: the benchmark compares what the two left
(the loans, each case and promise, the transition log, requests, assignments, the snapshot) and
prints whether it is the same. The last line is `ratio cycle/floor: X.XX`. The same N, seed and
day give the same rows.

A run's databases are bench_collection_cycle_<8 random hex digits> (or --database-name) and its
_cycle, _floor and _naive copies, dropped at the end unless --keep; DATABASE_URL's role needs
CREATEDB. Names starting with test_ (the test runs') are refused.

The modules: __main__ (the command and its phases), server (the databases), portfolio (the
build), floor, compare, report (what is printed), sql (INSERT ... SELECT for a model) and project
(every name the benchmark takes from the desk's code)."""
